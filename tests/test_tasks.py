"""Fine-tuning tasks: GLUE / BoolQ / custom readers, labels, BERT packing, submission files."""

import dataclasses
import json
import os
import warnings

import numpy as np
import pytest
from conftest import small_vocab

from electra_keras.data.task_encoding import _truncated_lengths
from electra_keras.data.tasks import (
    TASKS,
    Example,
    custom_task,
    encode_examples,
    get_task,
    label_ids,
    read_examples,
    read_file_examples,
    submission_filename,
    write_predictions,
)
from electra_keras.data.text import InputError
from electra_keras.data.tokenizer import WordPieceTokenizer

# Ids in the small vocab (specials at 0 and 100-103, then "." "," and conftest.WORDS).
PAD, UNK, CLS, SEP = 0, 100, 101, 102
ID = {"the": 106, "cat": 107, "dog": 108, "bird": 109, "sees": 110, "big": 115, "red": 116,
      "quickly": 122, "a": 127, ".": 104}

MNLI_HEADER = ("index promptID pairID genre sentence1_binary_parse sentence2_binary_parse "
               "sentence1_parse sentence2_parse sentence1 sentence2").split()


def write(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    return path


def tsv(*rows):
    return ["\t".join(row) for row in rows]


def mnli_row(index, s1, s2, labels):
    return [str(index), "31193", f"{index}n", "government", "( ( x ) )", "( y )", "(ROOT x)",
            "(ROOT y)", s1, s2, *labels]


@pytest.fixture
def glue(tmp_path):
    """A GLUE directory in the layout of GLUE's download script, a few rows a task."""
    root = tmp_path / "glue_data"
    write(root / "CoLA" / "train.tsv", tsv(
        ["gj04", "1", "", "Our friends won't buy this analysis, let alone the next one we propose."],
        ["gj04", "0", "*", 'The "more" we study verbs, the crazier they get.'],
    ))
    write(root / "CoLA" / "dev.tsv", tsv(["clc95", "1", "", "The sailors rode the breeze clear of the rocks."]))
    write(root / "CoLA" / "test.tsv", tsv(["index", "sentence"], ["0", "Bill whistled past the house."],
                                          ["1", "The car honked its way down the road."]))
    mrpc_header = ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]
    write(root / "MRPC" / "train.tsv", tsv(
        mrpc_header,
        ["1", "702876", "702977", "Amrozi accused his brother .", "Referring to him , Amrozi accused his brother ."],
        ["0", "2108705", "2108831", "Yucaipa owned Dominick 's .", "Yucaipa bought Dominick 's in 1995 ."],
    ))
    write(root / "MRPC" / "test.tsv", tsv(
        ["index", "#1 ID", "#2 ID", "#1 String", "#2 String"],
        ["0", "1089874", "1089925", "PCCW 's chief operating officer .", "Mr Bhoj will stay ."],
    ))
    write(root / "MNLI" / "train.tsv", tsv(
        MNLI_HEADER + ["label1", "gold_label"],
        mnli_row(0, "Conceptually cream skimming has two basic dimensions.",
                 "Product and geography are what make cream skimming work.", ["neutral", "neutral"]),
        mnli_row(1, "you know during the season.", "You lose the things.", ["entailment", "entailment"]),
    ))
    five = ["label1", "label2", "label3", "label4", "label5", "gold_label"]
    write(root / "MNLI" / "dev_matched.tsv", tsv(
        MNLI_HEADER + five,
        mnli_row(9815, "The new rights are nice enough", "Everyone really likes the newest benefits ",
                 ["neutral", "entailment", "neutral", "neutral", "neutral", "neutral"]),
    ))
    write(root / "MNLI" / "dev_mismatched.tsv", tsv(
        MNLI_HEADER + five,
        mnli_row(0, "Your contribution helped make it possible.", "Your contributions were of no help.",
                 ["contradiction"] * 6),
    ))
    write(root / "MNLI" / "test_matched.tsv", tsv(
        MNLI_HEADER,
        mnli_row(7, "Hierbas, ans seco, ans dulce, and frigola.", "Hierbas is a name.", []),
        mnli_row(12, "The extent of the behavior.", "The behavior is extensive.", []),
    ))
    sts_header = "index genre filename year old_index source1 source2 sentence1 sentence2 score".split()
    write(root / "STS-B" / "train.tsv", tsv(
        sts_header,
        ["0", "main-captions", "MSRvid", "2012test", "0001", "none", "none", "A plane is taking off.",
         "An air plane is taking off.", "5.000"],
        ["1", "main-captions", "MSRvid", "2012test", "0004", "none", "none", "A man is playing a flute.",
         "A man is playing a flute.", "3.800"],
    ))
    write(root / "STS-B" / "test.tsv", tsv(
        sts_header[:-1],
        ["0", "main-captions", "MSRvid", "2012test", "0024", "none", "none", "A girl is styling her hair.",
         "A girl is brushing her hair."],
        ["1", "main-captions", "MSRvid", "2012test", "0033", "none", "none", "A group of men play soccer.",
         "A group of boys are playing soccer."],
    ))
    return root


def test_get_task_names_and_aliases():
    assert get_task("SST2") is TASKS["sst-2"] and get_task("sst") is TASKS["sst-2"]
    assert get_task("STS-B") is get_task("stsb") is get_task("sts") is TASKS["sts-b"]
    assert get_task("MNLI-m") is get_task("mnli_mm") is TASKS["mnli"]
    assert get_task(TASKS["rte"]) is TASKS["rte"]
    with pytest.raises(ValueError, match=r"unknown task 'glue': expected one of cola, sst-2, .*boolq"):
        get_task("glue")
    cola, stsb, mnli = TASKS["cola"], TASKS["sts-b"], TASKS["mnli"]
    assert (cola.main_metric, TASKS["mrpc"].main_metric, TASKS["qqp"].main_metric) == ("mcc", "f1", "f1")
    assert (stsb.kind, stsb.main_metric, stsb.regression_scale, stsb.num_labels) == ("regression", "spearman", 5.0, 1)
    assert mnli.labels == ("contradiction", "entailment", "neutral") and mnli.num_labels == 3
    assert mnli.splits["dev_mismatched"] == "dev_mismatched.tsv" and mnli.splits["test"] == "test_matched.tsv"
    assert submission_filename("mnli", "test_mismatched") == "MNLI-mm.tsv"
    assert submission_filename("mnli") == "MNLI-m.tsv" and submission_filename("boolq") == "BoolQ.jsonl"
    assert all(set(t.metrics) <= {"accuracy", "f1", "mcc", "pearson", "spearman"} for t in TASKS.values())
    assert all(t.main_metric in t.metrics for t in TASKS.values())


def test_read_glue_layouts(glue):
    cola = read_examples("cola", glue / "CoLA", "train")
    assert cola == [
        Example("train-0", "Our friends won't buy this analysis, let alone the next one we propose.", None, "1"),
        Example("train-1", 'The "more" we study verbs, the crazier they get.', None, "0"),
    ]
    assert cola[1].source == f"{glue / 'CoLA' / 'train.tsv'}:2" and cola[1].index is None
    assert read_examples("cola", glue / "CoLA", "dev") == [
        Example("dev-0", "The sailors rode the breeze clear of the rocks.", None, "1")]
    cola_test = read_examples("cola", glue / "CoLA", "test")
    assert cola_test == [Example("test-0", "Bill whistled past the house.", None, None),
                         Example("test-1", "The car honked its way down the road.", None, None)]
    assert [e.index for e in cola_test] == ["0", "1"]

    assert read_examples("mrpc", glue / "MRPC") == [
        Example("train-0", "Amrozi accused his brother .", "Referring to him , Amrozi accused his brother .", "1"),
        Example("train-1", "Yucaipa owned Dominick 's .", "Yucaipa bought Dominick 's in 1995 .", "0"),
    ]
    assert read_examples("mrpc", glue / "MRPC", "test") == [
        Example("test-0", "PCCW 's chief operating officer .", "Mr Bhoj will stay .", None)]

    mnli = read_examples("mnli", glue / "MNLI", "train")
    assert mnli == [
        Example("train-0", "Conceptually cream skimming has two basic dimensions.",
                "Product and geography are what make cream skimming work.", "neutral"),
        Example("train-1", "you know during the season.", "You lose the things.", "entailment"),
    ]
    assert read_examples("mnli", glue / "MNLI", "dev") == [
        Example("dev-9815", "The new rights are nice enough", "Everyone really likes the newest benefits ", "neutral")]
    assert read_examples("mnli", glue / "MNLI", "dev_mismatched") == [
        Example("dev_mismatched-0", "Your contribution helped make it possible.",
                "Your contributions were of no help.", "contradiction")]
    test = read_examples("mnli", glue / "MNLI", "test")
    assert [(e.guid, e.text_b, e.label, e.index) for e in test] == [
        ("test-7", "Hierbas is a name.", None, "7"), ("test-12", "The behavior is extensive.", None, "12")]

    sts = read_examples("sts-b", glue / "STS-B")
    assert sts == [Example("train-0", "A plane is taking off.", "An air plane is taking off.", 5.0),
                   Example("train-1", "A man is playing a flute.", "A man is playing a flute.", 3.8)]
    assert [e.label for e in read_examples("stsb", glue / "STS-B", "test")] == [None, None]


def test_label_ids(glue):
    ids = label_ids("mnli", read_examples("mnli", glue / "MNLI"))
    assert ids.dtype == np.int32 and ids.tolist() == [2, 1]
    assert label_ids("cola", read_examples("cola", glue / "CoLA")).tolist() == [1, 0]
    values = label_ids("sts-b", read_examples("sts-b", glue / "STS-B"))
    assert values.dtype == np.float32
    np.testing.assert_allclose(values, [1.0, 0.76], rtol=1e-6)
    bad = [Example("dev-3", "a", "b", "maybe", source="dev.tsv:5")]
    with pytest.raises(InputError, match=r"dev.tsv:5 \(example dev-3\): label 'maybe' is not one of the labels of task "
                                         r"'rte': entailment, not_entailment"):
        label_ids("rte", bad)
    with pytest.raises(InputError, match=r"MNLI/test_matched.tsv:2 \(example test-7\): the example has no label"):
        label_ids("mnli", read_examples("mnli", glue / "MNLI", "test"))


def test_qqp_skips_malformed_lines_with_one_warning(tmp_path):
    header = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]
    write(tmp_path / "train.tsv", tsv(
        header,
        ["133273", "213221", "213222", "How is the life of a math student?", "Which level?", "0"],
        ["402555", "536040", "536041", "How do I control my"],  # a question with a newline in it
        ["horny emotions?", "How do you control your horniness?", "1"],
        ["360472", "364011", "490273", "What causes stool color to change?", "What can cause it?", "0"],
    ))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        examples = read_examples("qqp", tmp_path)
    assert [str(w.message) for w in caught] == [
        f"{tmp_path / 'train.tsv'}: skipped 2 malformed line(s) without the 6 tab-separated columns (as BERT does)"]
    assert [(e.guid, e.label) for e in examples] == [("train-133273", "0"), ("train-360472", "0")]
    # Elsewhere a short row is an error naming the file and line.
    write(tmp_path / "rte" / "dev.tsv", tsv(["index", "sentence1", "sentence2", "label"],
                                            ["0", "a", "b", "entailment"], ["1", "a", "b"]))
    with pytest.raises(InputError, match=r"rte/dev.tsv:3: expected 4 tab-separated columns, found 3"):
        read_examples("rte", tmp_path / "rte", "dev")


def test_glue_reader_errors(glue, tmp_path):
    write(tmp_path / "sst" / "train.tsv", tsv(["text", "label"], ["good", "1"]))
    with pytest.raises(InputError, match=r"sst/train.tsv: no column 'sentence' in the header "
                                         r"\(found columns 'text', 'label'\)"):
        read_examples("sst-2", tmp_path / "sst")
    write(tmp_path / "sst" / "dev.tsv", tsv(["sentence", "polarity"], ["good", "1"]))
    with pytest.raises(InputError, match=r"no column 'label' in the header \(found columns 'sentence', 'polarity'\)"):
        read_examples("sst-2", tmp_path / "sst", "dev")
    write(tmp_path / "sst" / "test.tsv", [])
    with pytest.raises(InputError, match=r"sst/test.tsv is empty: expected a header line and rows"):
        read_examples("sst-2", tmp_path / "sst", "test")
    write(tmp_path / "qnli" / "train.tsv", ["index\tquestion\tsentence\tlabel"])
    with pytest.raises(InputError, match=r"qnli/train.tsv: no data rows"):
        read_examples("qnli", tmp_path / "qnli")
    write(tmp_path / "cola" / "train.tsv", [])
    with pytest.raises(InputError, match=r"cola/train.tsv is empty: expected rows of 4 tab-separated columns"):
        read_examples("cola", tmp_path / "cola")
    write(tmp_path / "cola" / "dev.tsv", tsv(["gj04", "1", "", "ok ."], ["gj04", "1", "no sentence"]))
    with pytest.raises(InputError, match=r"cola/dev.tsv:2: expected 4 tab-separated columns, found 3"):
        read_examples("cola", tmp_path / "cola", "dev")
    write(tmp_path / "sts" / "train.tsv", tsv(["index", "sentence1", "sentence2", "score"], ["0", "a", "b", "high"]))
    with pytest.raises(InputError, match=r"sts/train.tsv:2: expected a number in 'score', found 'high'"):
        read_examples("sts-b", tmp_path / "sts")
    with pytest.raises(InputError, match=r"MNLI/train_matched.tsv: no such file"):
        read_examples(dataclasses.replace(TASKS["mnli"], splits={"train": "train_matched.tsv"}), glue / "MNLI")
    with pytest.raises(ValueError, match=r"task 'cola' has no split 'val': expected one of train, dev, test"):
        read_examples("cola", glue / "CoLA", "val")


def test_empty_texts_in_glue_files_are_kept(tmp_path):
    write(tmp_path / "dev.tsv", tsv(["index", "sentence1", "sentence2", "label"], ["0", "", "b", "1"]))
    assert read_examples("wnli", tmp_path, "dev") == [Example("dev-0", "", "b", "1")]


@pytest.mark.parametrize("name, lines, message", [
    ("a.csv", ["text,label", "good,1", "bad,"], r"a.csv:3: empty label in column 'label': expected a class label"),
    ("b.csv", ["text,label", "good,1", "  ,0"], r"b.csv:3: empty text in column 'text': expected text"),
    ("c.tsv", ["text\tscore", "good\t0.5", "bad\t "], r"c.tsv:3: empty label in column 'score': expected a number"),
    ("d.jsonl", ['{"text": "a", "label": 1}', '{"text": "b", "label": ""}'], r"d.jsonl:2: empty label in field 'label'"),
    ("e.jsonl", ['{"text": "a", "label": 1}', '{"text": " ", "label": 0}'], r"e.jsonl:2: empty text in field 'text'"),
])
def test_empty_cells_in_custom_files_are_errors_naming_file_line_and_column(tmp_path, name, lines, message):
    path = write(tmp_path / name, lines)
    kind = "regression" if name.endswith(".tsv") else "classification"
    label = "score" if kind == "regression" else "label"
    with pytest.raises(InputError, match=message):
        read_examples(custom_task({"train": str(path)}, "text", label, kind=kind, labels=None if kind == "regression" else ["0", "1"]))


def test_an_unlabelled_test_file_may_leave_the_label_empty(tmp_path):
    files = {"train": str(write(tmp_path / "train.csv", ["text,label", "good,1", "bad,0"])),
             "test": str(write(tmp_path / "test.csv", ["text,label", "fine,"]))}
    assert [e.label for e in read_examples(custom_task(files, "text", "label"), split="test")] == [None]


def test_boolq_jsonl(tmp_path):
    write(tmp_path / "train.jsonl", [
        json.dumps({"question": "is the sky blue", "passage": "The sky is blue.", "label": True}),
        "",
        json.dumps({"question": "do cats bark", "passage": "Cats meow.", "label": False}),
    ])
    write(tmp_path / "val.jsonl", [json.dumps({"question": "q", "passage": "p", "idx": 4, "label": True})])
    write(tmp_path / "test.jsonl", [json.dumps({"question": "q2", "passage": "p2", "idx": 0}),
                                    json.dumps({"question": "q3", "passage": "p3", "idx": 1})])
    train = read_examples("boolq", tmp_path)
    assert train == [Example("train-0", "is the sky blue", "The sky is blue.", "True"),
                     Example("train-1", "do cats bark", "Cats meow.", "False")]
    assert train[1].source.endswith("train.jsonl:3")
    assert label_ids("boolq", train).tolist() == [1, 0]
    assert read_examples("boolq", tmp_path, "dev") == [Example("dev-4", "q", "p", "True")]
    test = read_examples("boolq", tmp_path, "test")
    assert [e.label for e in test] == [None, None]
    out = write_predictions("boolq", test, np.array([[0.1, 0.9], [2.0, -1.0]]), tmp_path / "out")
    assert out == str(tmp_path / "out")
    with open(out) as f:
        assert [json.loads(line) for line in f] == [{"idx": 0, "label": True}, {"idx": 1, "label": False}]


def test_custom_csv_tsv_jsonl(tmp_path):
    csv_path = write(tmp_path / "reviews.csv", [
        "id,review,stars",
        '1,"Great, really great",pos',
        '2,"He said ""meh""\nand left",neg',
        "3,fine,neu",
    ])
    task = custom_task(csv_path, "review", "stars")
    assert (task.name, task.kind, task.labels, task.metrics) == ("custom", "classification", ("neg", "neu", "pos"), ("accuracy",))
    examples = read_examples(task, None, "train")
    assert examples == [Example("train-0", "Great, really great", None, "pos"),
                        Example("train-1", 'He said "meh"\nand left', None, "neg"),
                        Example("train-2", "fine", None, "neu")]
    assert examples[2].source.endswith("reviews.csv:5")  # the quoted field spans lines 3-4
    assert label_ids(task, examples).tolist() == [2, 0, 1]

    tsv_path = write(tmp_path / "pairs.tsv", tsv(["a", "b", "y"], ["x \"y", "z", "10"], ["p", "q", "2"]))
    pairs = custom_task({"train": tsv_path, "dev": tsv_path}, ["a", "b"], "y")
    assert pairs.labels == ("2", "10") and pairs.metrics == ("accuracy", "f1")  # numeric order
    assert read_examples(pairs, "/elsewhere", "dev") == [Example("dev-0", 'x "y', "z", "10"),
                                                          Example("dev-1", "p", "q", "2")]
    regression = custom_task([tsv_path], ["a", "b"], "y", kind="regression")
    assert regression.labels == () and [e.label for e in read_examples(regression)] == [10.0, 2.0]

    jsonl_path = write(tmp_path / "data.jsonl", [json.dumps({"t": "yes", "y": 1}), json.dumps({"t": "no", "y": 0}),
                                                 json.dumps({"t": "again", "y": True})])
    task = custom_task(jsonl_path, ["t"], "y")
    assert task.labels == ("0", "1", "True") and task.prediction_format == "jsonl"
    assert read_file_examples(jsonl_path, task) == [Example("train-0", "yes", None, "1"),
                                                    Example("train-1", "no", None, "0"),
                                                    Example("train-2", "again", None, "True")]
    given = custom_task(jsonl_path, "t", "y", labels=["1", "0", "True"])
    assert label_ids(given, read_examples(given)).tolist() == [0, 1, 2]


def test_custom_errors(tmp_path):
    empty = write(tmp_path / "empty.csv", [])
    with pytest.raises(InputError, match=r"empty.csv is empty: expected a header line and rows"):
        custom_task(empty, "text", "label")
    path = write(tmp_path / "a.csv", ["text,label", "good,1", "bad,0,extra"])
    with pytest.raises(InputError, match=r"a.csv: no column 'sentence' in the header \(found columns 'text', 'label'\)"):
        custom_task(path, "sentence", "label")
    with pytest.raises(InputError, match=r"a.csv:3: expected 2 comma-separated columns, found 3"):
        custom_task(path, "text", "label")
    path = write(tmp_path / "r.tsv", ["text\tscore", "good\t0.5", "bad\tn/a"])
    with pytest.raises(InputError, match=r"r.tsv:3: expected a number in 'score', found 'n/a'"):
        read_examples(custom_task(path, "text", "score", kind="regression"))
    path = write(tmp_path / "j.jsonl", [json.dumps({"text": "a", "label": 1}), json.dumps(["text", "b"])])
    with pytest.raises(InputError, match=r"j.jsonl:2: expected a JSON object, found list"):
        custom_task(path, "text", "label")
    path = write(tmp_path / "k.jsonl", [json.dumps({"text": "a", "label": 1}), "{oops"])
    with pytest.raises(InputError, match=r"k.jsonl:2: not valid JSON"):
        custom_task(path, "text", "label")
    path = write(tmp_path / "m.jsonl", [json.dumps({"body": "a", "label": 1})])
    with pytest.raises(InputError, match=r"m.jsonl:1: no 'text' field \(fields: body, label\)"):
        custom_task(path, "text", "label")
    with pytest.raises(InputError, match=r"e.jsonl is empty: expected one JSON object per line"):
        custom_task(write(tmp_path / "e.jsonl", ["", ""]), "text", "label")
    with pytest.raises(InputError, match=r"data.txt: unknown file type: expected a name ending in .csv, .tsv or .jsonl"):
        custom_task(tmp_path / "data.txt", "text", "label")
    one = write(tmp_path / "one.csv", ["text,label", "a,x", "b,x"])
    with pytest.raises(ValueError, match=r"two or more distinct labels"):
        custom_task(one, "text", "label")


def test_truncated_lengths_match_bert_truncate_seq_pair():
    def bert(len_a, len_b, budget):  # run_classifier._truncate_seq_pair, on lengths
        while len_a + len_b > budget:
            if len_a > len_b:
                len_a -= 1
            else:
                len_b -= 1
        return len_a, len_b

    for a in range(12):
        for b in range(12):
            for budget in range(0, 14):
                assert _truncated_lengths(a, b, budget) == bert(a, b, budget), (a, b, budget)


def test_encode_examples(tmp_path):
    tokenizer = WordPieceTokenizer(small_vocab(tmp_path / "vocab"))
    the, cat, dog, bird, sees, big, red, a, dot = (ID[w] for w in "the cat dog bird sees big red a .".split())
    examples = [
        Example("0", "The cat sees a dog.", "A bird!", "1"),  # "!" is not in the vocab: [UNK]
        Example("1", "The cat sees the big red dog", "A bird", "0"),
        Example("2", "The big red dog sees the cat", "a big red bird sees the dog", "0"),
        Example("3", "the dog", None, "1"),
    ]
    out = encode_examples(examples, tokenizer, 10)
    assert set(out) == {"token_ids", "segment_ids", "padding_mask"}
    assert all(v.dtype == np.int32 and v.shape == (4, 10) for v in out.values())
    assert out["token_ids"].tolist() == [
        [CLS, the, cat, sees, a, SEP, a, bird, UNK, SEP],  # 6 + 3 -> 4 + 3: pops from A (longer)
        [CLS, the, cat, sees, the, big, SEP, a, bird, SEP],  # 7 + 2 -> 5 + 2
        [CLS, the, big, red, dog, SEP, a, big, red, SEP],  # 7 + 7 -> 4 + 3: popped alternately, B first
        [CLS, the, dog, SEP, PAD, PAD, PAD, PAD, PAD, PAD],
    ]
    assert out["segment_ids"].tolist() == [
        [0, 0, 0, 0, 0, 0, 1, 1, 1, 1],
        [0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
        [0, 0, 0, 0, 0, 0, 1, 1, 1, 1],
        [0] * 10,
    ]
    assert out["padding_mask"].tolist() == [[1] * 10, [1] * 10, [1] * 10, [1] * 4 + [0] * 6]
    # Without truncation: everything kept, padded.
    wide = encode_examples(examples[:1], tokenizer, 14)
    assert wide["token_ids"].tolist() == [[CLS, the, cat, sees, a, dog, dot, SEP, a, bird, UNK, SEP, PAD, PAD]]
    assert wide["segment_ids"].tolist() == [[0] * 8 + [1] * 4 + [0] * 2]
    assert wide["padding_mask"].tolist() == [[1] * 12 + [0] * 2]
    # A single text keeps its first max_seq_len - 2 pieces.
    assert encode_examples([examples[3]], tokenizer, 3)["token_ids"].tolist() == [[CLS, the, SEP]]
    assert encode_examples([examples[3]], tokenizer, 2)["token_ids"].tolist() == [[CLS, SEP]]
    assert encode_examples(examples[:1], tokenizer, 3)["token_ids"].tolist() == [[CLS, SEP, SEP]]
    assert encode_examples([], tokenizer, 8)["token_ids"].shape == (0, 8)
    with pytest.raises(ValueError, match=r"max_seq_len=2 is too short"):
        encode_examples(examples[:1], tokenizer, 2)
    with pytest.raises(ValueError, match=r"max_seq_len=1 is too short"):
        encode_examples([examples[3]], tokenizer, 1)


def test_write_predictions_mnli_and_stsb(glue, tmp_path):
    test = read_examples("mnli", glue / "MNLI", "test")
    path = write_predictions("mnli", test, [1, 0], tmp_path / "sub" / "MNLI-m.tsv")
    with open(path) as f:
        assert f.read() == "index\tprediction\n7\tentailment\n12\tcontradiction\n"
    # A directory: named after the split.
    os.makedirs(tmp_path / "dir")
    path = write_predictions("mnli", test, np.array([[0.0, 0.1, 3.0], [1.0, 0.0, 0.0]]), tmp_path / "dir",
                             split="test_mismatched")
    assert path == str(tmp_path / "dir" / "MNLI-mm.tsv")
    with open(path) as f:
        assert f.read() == "index\tprediction\n7\tneutral\n12\tcontradiction\n"
    assert sorted(os.listdir(tmp_path / "dir")) == ["MNLI-mm.tsv"]  # no temp file left

    sts = read_examples("sts-b", glue / "STS-B", "test")
    path = write_predictions("sts-b", sts, np.array([[0.76], [1.3]], "float32"), tmp_path / "STS-B.tsv")
    with open(path) as f:
        assert f.read() == "index\tprediction\n0\t3.800\n1\t5.000\n"
    # No index column in the file: a running index.
    unindexed = [Example("test-0", "a", None, None), Example("test-1", "b", None, None)]
    path = write_predictions("sst-2", unindexed, [1, 0], tmp_path / "SST-2.tsv")
    with open(path) as f:
        assert f.read() == "index\tprediction\n0\t1\n1\t0\n"
    with pytest.raises(ValueError, match=r"expected one prediction per example \(2\)"):
        write_predictions("sst-2", unindexed, [1], tmp_path / "x.tsv")
    with pytest.raises(ValueError, match=r"prediction 2 is not a class id of task 'sst-2' \(0..1\)"):
        write_predictions("sst-2", unindexed, [1, 2], tmp_path / "x.tsv")
