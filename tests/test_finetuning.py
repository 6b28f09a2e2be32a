"""Fine-tuning: the classifier and span heads, the finetune / evaluate runs and their CLI."""

import json
import os

import keras
import numpy as np
import pytest

from conftest import WORDS, small_vocab, tiny_config
from electra_keras import (ElectraClassifier, ElectraPretrainer, ElectraSpanExtractor, ElectraTextClassifier,
                           evaluation)
from electra_keras.cli import main
from electra_keras.convert.common import Converted
from electra_keras.convert.native import save_model_directory
from electra_keras.data.tokenizer import WordPieceTokenizer
from electra_keras.finetuning import evaluate, finetune, fit_head, load_backbone


def np_(x):
    return keras.ops.convert_to_numpy(x)


def model_dir(tmp_path, name="pretrained"):
    """A randomly initialised backbone saved as a pretraining run would leave it."""
    path = tmp_path / name
    small_vocab(str(tmp_path / "vocab"), tokens=["?", "where", "is"])
    tokenizer = WordPieceTokenizer.from_directory(str(tmp_path / "vocab"))
    config = tiny_config(max_sequence_length=64, sequence_length=32)
    backbone = ElectraPretrainer(config, seed=0).backbone
    save_model_directory(Converted(backbone, tokenizer, config, "backbone"), str(path))
    return str(path)


def inputs(batch=6, seq=12, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(104, 150, size=(batch, seq)).astype("int32")
    ids[:, 0] = 101
    segments = np.zeros_like(ids)
    segments[:, 5:] = 1
    mask = np.ones_like(ids)
    mask[0, 9:] = 0
    return {"token_ids": ids, "segment_ids": segments, "padding_mask": mask}


# ---- the heads ---------------------------------------------------------------------------------


def test_classifier_is_a_dense_layer_on_the_cls_state(tmp_path):
    backbone = ElectraPretrainer(tiny_config(), seed=0).backbone
    model = ElectraClassifier(backbone, num_classes=3, dropout=0.5)
    x = inputs()
    states = np_(backbone(x))[:, 0]  # (batch, hidden) of [CLS]
    dense = model.get_layer("classifier")
    expected = states @ np_(dense.kernel) + np_(dense.bias)
    np.testing.assert_allclose(np_(model(x)), expected, atol=1e-5)  # no dropout at inference
    path = str(tmp_path / "clf.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(np_(restored(x)), expected, atol=1e-5)
    with pytest.raises(ValueError, match="num_classes"):
        ElectraClassifier(backbone, num_classes=0)


def test_mean_pooling_classifies_the_mean_of_the_real_tokens_states(tmp_path):
    backbone = ElectraPretrainer(tiny_config(), seed=0).backbone
    model = ElectraClassifier(backbone, num_classes=2, pooling="mean")
    x = inputs()
    states, mask = np_(backbone(x)), x["padding_mask"][:, :, None]
    pooled = (states * mask).sum(1) / mask.sum(1)  # example 0 has 9 real tokens, the others 12
    dense = model.get_layer("classifier")
    expected = pooled @ np_(dense.kernel) + np_(dense.bias)
    np.testing.assert_allclose(np_(model(x)), expected, atol=1e-5)
    assert not np.allclose(expected, states[:, 0] @ np_(dense.kernel) + np_(dense.bias), atol=1e-3)
    model.save(str(tmp_path / "mean.keras"))
    restored = keras.saving.load_model(str(tmp_path / "mean.keras"))
    assert restored.pooling == "mean"
    np.testing.assert_allclose(np_(restored(x)), expected, atol=1e-5)
    with pytest.raises(ValueError, match="pooling 'cls' or 'mean'"):
        ElectraClassifier(backbone, num_classes=2, pooling="max")


def test_classifier_learns_a_rule_and_the_head_trains_fastest():
    from electra_keras.optimizers import finetuning_adamw

    keras.utils.set_random_seed(0)
    backbone = ElectraPretrainer(tiny_config(), seed=0).backbone
    model = ElectraClassifier(backbone, num_classes=2, seed=0)
    x = inputs(batch=64, seed=1)
    labels = (x["token_ids"][:, 1] >= 127).astype("int32")  # the class is in the first word
    embeddings_before = np_(backbone.embeddings.weights[0]).copy()
    model.compile(optimizer=finetuning_adamw(model, backbone, learning_rate=3e-3, total_steps=160,
                                             layer_decay=0.5),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, labels, batch_size=16, epochs=40, verbose=0)
    accuracy = (np_(model.predict(x, verbose=0)).argmax(-1) == labels).mean()
    assert accuracy >= 0.95
    # The embeddings train at 0.5 ** 2 of the rate (depth 2 + 1 for 1 layer): they moved, a little.
    moved = np.abs(np_(backbone.embeddings.weights[0]) - embeddings_before).max()
    assert 0 < moved < 3e-3 * 0.25 * 160 * 3.2  # below lr * multiplier * steps * Adam's first-step bound


def span_reference(model, x, start_positions):
    """The span model's heads in NumPy, from its weights and the backbone's states."""
    h = np_(model.backbone(x)).astype("float64")  # (batch, seq, hidden)
    mask = x["padding_mask"] * x["segment_ids"]
    mask[:, 0] = 1  # [CLS] stands for "no answer"
    weights = {layer.name: [np_(w).astype("float64") for w in layer.weights]
               for layer in (model.start_dense, model.end_hidden, model.end_dense,
                             model.answerable_hidden, model.answerable_dense)}
    gelu = lambda z: 0.5 * z * (1 + np.vectorize(__import__("math").erf)(z / np.sqrt(2)))  # noqa: E731
    start = (h @ weights["start_logits"][0])[..., 0] + weights["start_logits"][1][0] - 1000 * (1 - mask)
    chosen = h[np.arange(len(h)), start_positions]  # (batch, hidden)
    pairs = np.concatenate([np.broadcast_to(chosen[:, None], h.shape), h], -1)
    hidden = gelu(pairs @ weights["end_hidden"][0] + weights["end_hidden"][1])
    end = (hidden @ weights["end_logits"][0])[..., 0] + weights["end_logits"][1][0] - 1000 * (1 - mask)
    p = np.exp(start - start.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    features = np.concatenate([h[:, 0], (p[..., None] * h).sum(1)], -1)
    answerable = gelu(features @ weights["answerable_hidden"][0] + weights["answerable_hidden"][1])
    answerable = (answerable @ weights["answerable_logit"][0])[:, 0] + weights["answerable_logit"][1][0]
    return start, end, answerable


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_span_extractor_heads_and_loss_match_numpy(tmp_path):
    backbone = ElectraPretrainer(tiny_config(), seed=0).backbone
    model = ElectraSpanExtractor(backbone, beam_size=3, hidden_dim=8)
    x = inputs()
    starts = np.array([6, 0, 7, 5, 9, 11])
    ends = np.array([8, 0, 7, 6, 10, 11])
    impossible = np.array([0, 1, 0, 0, 0, 0], "float32")
    start, end, answerable = span_reference(model, x, starts)
    out = model({**x, "start_positions": starts})
    np.testing.assert_allclose(np_(out["start_logits"]), start, atol=1e-4)
    np.testing.assert_allclose(np_(out["end_logits"]), end, atol=1e-4)
    np.testing.assert_allclose(np_(out["answerable_logit"]), answerable, atol=1e-4)

    # loss = (start CE + end CE) / 2 + 0.5 * BCE(is_impossible, answerable logit), batch mean
    rows = np.arange(len(starts))
    ce = -(log_softmax(start)[rows, starts] + log_softmax(end)[rows, ends]) / 2
    bce = np.maximum(answerable, 0) - answerable * impossible + np.log1p(np.exp(-np.abs(answerable)))
    y = {"start_positions": starts, "end_positions": ends, "is_impossible": impossible}
    loss = model.compute_loss({**x, "start_positions": starts}, y, out)
    np.testing.assert_allclose(float(np_(loss)), (ce + 0.5 * bce).mean(), rtol=1e-5)

    # Inference: the K best starts, and for each the K best ends given that start.
    beam = {k: np_(v) for k, v in model(x).items()}
    top_starts = np.argsort(-log_softmax(start), -1, kind="stable")[:, :3]
    np.testing.assert_array_equal(np.sort(beam["start_top_index"], -1), np.sort(top_starts, -1))
    for k in range(3):
        given = beam["start_top_index"][:, k]
        _, end_k, _ = span_reference(model, x, given)
        expected = np.sort(log_softmax(end_k), -1)[:, ::-1][:, :3]
        np.testing.assert_allclose(beam["end_top_log_probs"][:, k], expected, atol=1e-4)
        chosen = np.take_along_axis(log_softmax(end_k), beam["end_top_index"][:, k], -1)
        np.testing.assert_allclose(chosen, expected, atol=1e-4)
        assert (x["segment_ids"][rows[:, None], beam["end_top_index"][:, k]] == 1).all() or \
            (beam["end_top_index"][:, k] == 0).any()  # ends in the context or [CLS]

    path = str(tmp_path / "span.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(np_(restored(x)["answerable_logit"]), beam["answerable_logit"], atol=1e-6)


def test_span_extractor_fits():
    keras.utils.set_random_seed(0)
    backbone = ElectraPretrainer(tiny_config(), seed=0).backbone
    model = ElectraSpanExtractor(backbone, beam_size=2, hidden_dim=8, answerable=False)
    x = inputs(batch=16, seed=3)
    starts = np.full(16, 6)
    y = {"start_positions": starts, "end_positions": np.full(16, 8), "is_impossible": np.zeros(16, "float32")}
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit({**x, "start_positions": starts}, y, batch_size=8, epochs=15, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    beam = model.predict(x, verbose=0)
    assert (beam["start_top_index"][:, 0] == 6).mean() >= 0.9
    assert (beam["end_top_index"][:, 0, 0] == 8).mean() >= 0.9


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_head_first_fits_the_head_to_the_pooled_features_and_leaves_the_encoder(pooling):
    from types import SimpleNamespace

    keras.utils.set_random_seed(0)
    backbone = ElectraPretrainer(tiny_config(), seed=0).backbone
    model = ElectraClassifier(backbone, num_classes=2, pooling=pooling, seed=0)
    x = inputs(batch=96, seed=2)
    x["token_ids"][:, 0] = np.random.default_rng(3).integers(104, 150, size=96)  # a [CLS] state that varies
    states, mask = np_(backbone(x)), x["padding_mask"][:, :, None]
    pooled = states[:, 0] if pooling == "cls" else (states * mask).sum(1) / mask.sum(1)
    # Labels a linear rule on the pooled features the head reads, with a margin.
    projection = pooled @ np.random.default_rng(0).normal(size=pooled.shape[1])
    keep = np.abs(projection - np.median(projection)) > 0.1 * projection.std()
    x = {k: v[keep] for k, v in x.items()}
    labels = (projection[keep] > np.median(projection)).astype("int32")
    encoder_before = [np_(w).copy() for w in backbone.weights]
    head = model.get_layer("classifier")
    before = (np_(model.predict(x, verbose=0)).argmax(-1) == labels).mean()

    line = fit_head(model, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    SimpleNamespace(x=x, y=labels), epochs=300, learning_rate=1e-2)
    logits = np_(model.predict(x, verbose=0))
    accuracy = (logits.argmax(-1) == labels).mean()
    assert before < 0.8 and accuracy >= 0.95, (before, accuracy)
    assert line == f"training accuracy {accuracy:.4f}"
    np.testing.assert_allclose(logits, pooled[keep] @ np_(head.kernel) + np_(head.bias), atol=1e-4)
    for old, new in zip(encoder_before, backbone.weights):
        np.testing.assert_array_equal(old, np_(new))

    # A regressor's head (one unit, squared error) fitted to a target linear in the same features.
    regressor = ElectraClassifier(backbone, num_classes=1, pooling=pooling, seed=0)
    target = (projection[keep] - projection[keep].mean()) / projection[keep].std()
    line = fit_head(regressor, keras.losses.MeanSquaredError(), SimpleNamespace(x=x, y=target), epochs=300,
                    learning_rate=1e-2)
    predicted = np_(regressor.predict(x, verbose=0))[:, 0]
    assert np.corrcoef(predicted, target)[0, 1] > 0.95
    assert line.startswith("training loss ") and float(line.split()[-1]) < 0.2  # of the standardised target


# ---- the runs ----------------------------------------------------------------------------------


def write_sst2(directory, seed=0):
    """A GLUE SST-2 directory as distributed: header rows, label 1 when "cat" leads the sentence."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    rows = {}
    for split, n in (("train", 48), ("dev", 16), ("test", 6)):
        lines = ["index\tsentence" if split == "test" else "sentence\tlabel"]
        rows[split] = []
        for i in range(n):
            label = i % 2
            words = ["cat" if label else "dog"] + list(rng.choice(WORDS, size=5))
            text = " ".join(words)
            rows[split].append((text, label))
            lines.append(f"{i}\t{text}" if split == "test" else f"{text}\t{label}")
        with open(os.path.join(directory, f"{split}.tsv"), "w") as f:
            f.write("\n".join(lines) + "\n")
    return rows


def test_finetune_and_evaluate_a_glue_task(tmp_path):
    rows = write_sst2(str(tmp_path / "SST-2"))
    run_dir, metrics = finetune(model_dir(tmp_path), "sst-2", str(tmp_path / "SST-2"), output_dir=str(tmp_path / "runs"),
                                run_name="sst", verbose=0, epochs=2, batch_size=8, max_seq_len=16,
                                learning_rate=1e-3)
    for name in ("finetuned.keras", "finetune.json", "metrics.json", "history.csv", "finetuning.png",
                 "vocab.txt", "config.json"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    with open(os.path.join(run_dir, "history.csv")) as f:
        assert len(f.readlines()) == 3  # header + one row per epoch
    # The dev predictions written in GLUE's format give the accuracy the run reports.
    with open(os.path.join(run_dir, "predictions", "dev", "SST-2.tsv")) as f:
        lines = f.read().splitlines()
    assert lines[0] == "index\tprediction" and len(lines) == 17
    predicted = [int(line.split("\t")[1]) for line in lines[1:]]
    labels = [label for _, label in rows["dev"]]
    assert metrics["accuracy"] == pytest.approx(evaluation.accuracy(labels, predicted))
    assert evaluate(run_dir, str(tmp_path / "SST-2"), "dev", verbose=0) == metrics
    assert evaluate(run_dir, split="test", verbose=0) == {}  # no labels; the data dir is remembered
    with open(os.path.join(run_dir, "predictions", "test", "SST-2.tsv")) as f:
        test_lines = f.read().splitlines()
    assert [line.split("\t")[0] for line in test_lines[1:]] == [str(i) for i in range(6)]
    assert {line.split("\t")[1] for line in test_lines[1:]} <= {"0", "1"}
    settings = json.load(open(os.path.join(run_dir, "finetune.json")))["settings"]
    assert (settings["layer_decay"], settings["warmup_fraction"], settings["epochs"]) == (0.8, 0.1, 2)
    with pytest.raises(FileExistsError, match="--overwrite"):
        finetune(model_dir(tmp_path, "again"), "sst-2", str(tmp_path / "SST-2"), output_dir=str(tmp_path / "runs"),
                 run_name="sst", verbose=0)


def test_a_head_first_run_starts_from_the_fitted_head(tmp_path, capsys):
    write_sst2(str(tmp_path / "SST-2"))
    source = model_dir(tmp_path)
    heads = {}
    for head_first in (False, True):  # at rate 0 the saved model is the one fine-tuning started from
        run_dir, _ = finetune(source, "sst-2", str(tmp_path / "SST-2"), output_dir=str(tmp_path / "runs"),
                              run_name=f"head_first_{head_first}", epochs=1, batch_size=8, max_seq_len=16,
                              learning_rate=0.0, pooling="mean", head_first=head_first)
        assert json.load(open(os.path.join(run_dir, "finetune.json")))["settings"]["head_first"] is head_first
        model = keras.saving.load_model(os.path.join(run_dir, "finetuned.keras"))
        heads[head_first] = [np_(w) for w in model.get_layer("classifier").weights]
        for old, new in zip(keras.saving.load_model(os.path.join(source, "backbone.keras")).weights,
                            model.backbone.weights):
            np.testing.assert_array_equal(np_(old), np_(new))
    assert "head fitted on the frozen encoder's features first (training accuracy" in capsys.readouterr().out
    assert np.abs(heads[True][0] - heads[False][0]).max() > 0.05  # the fitted head, not the seed's

    folder = tmp_path / "squad"
    folder.mkdir()
    write_squad(str(folder / "train-v1.1.json"))
    write_squad(str(folder / "dev-v1.1.json"))
    with pytest.raises(ValueError, match="head_first: squad has no classifier head"):  # before reading
        finetune(source, "squad", str(folder), output_dir=str(tmp_path / "runs"), run_name="squad", verbose=0,
                 max_seq_len=24, doc_stride=8, max_query_len=8, head_first=True)
    assert not os.path.exists(tmp_path / "runs" / "squad")
    with pytest.raises(ValueError, match="head_first: squad has no classifier head"):  # fit_head on its own
        fit_head(ElectraSpanExtractor(load_backbone(source)[0]), None, None, "squad")


def test_the_head_is_fitted_in_at_most_a_few_thousand_steps():
    from electra_keras.finetuning import head_passes

    assert head_passes(1000) == 50 and head_passes(2000) == 50  # 32 and 63 batches a pass: all 50
    assert head_passes(40_000) == 4  # 1,250 batches a pass: 5,000 steps
    assert head_passes(392_702) == 1  # MNLI: one pass, not 50
    assert head_passes(90, epochs=300) == 300


def test_regression_predictions_come_back_on_the_label_scale(tmp_path):
    folder = tmp_path / "STS-B"
    folder.mkdir()
    header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"
    rng = np.random.default_rng(0)
    for split, n in (("train", 16), ("dev", 8)):
        lines = [header] + [f"{i}\tx\tx\tx\tx\tx\tx\tthe cat runs\tthe dog {rng.choice(WORDS)}\t{i % 6:.1f}"
                            for i in range(n)]
        (folder / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    run_dir, metrics = finetune(model_dir(tmp_path), "sts-b", str(folder), output_dir=str(tmp_path / "runs"),
                                run_name="sts", verbose=0, epochs=1, batch_size=8, max_seq_len=16)
    assert set(metrics) == {"pearson", "spearman"}
    model = keras.saving.load_model(os.path.join(run_dir, "finetuned.keras"))
    from electra_keras.data import tasks

    task = tasks.get_task("sts-b")
    examples = tasks.read_examples(task, str(folder), "dev")
    assert isinstance(model, ElectraTextClassifier)  # the CLI's classes: it takes the raw sentence pairs
    raw = model.predict(([e.text_a for e in examples], [e.text_b for e in examples]), verbose=0)[:, 0]
    tokenizer = WordPieceTokenizer.from_directory(run_dir)  # the same values on the ids the run packed
    np.testing.assert_allclose(model.predict(tasks.encode_examples(examples, tokenizer, 16), verbose=0)[:, 0], raw,
                               rtol=1e-5, atol=1e-6)
    with open(os.path.join(run_dir, "predictions", "dev", "STS-B.tsv")) as f:
        written = [float(line.split("\t")[1]) for line in f.read().splitlines()[1:]]
    np.testing.assert_allclose(written, np.clip(raw * 5.0, 0, 5), atol=1e-3)  # trained on label / 5
    labels = [i % 6 for i in range(8)]
    assert metrics["pearson"] == pytest.approx(evaluation.pearson(labels, raw * 5.0), abs=1e-5)


def write_squad(path):
    context = "the old cat sees a big green tree near the river"
    data = {"version": "v2.0", "data": [{"title": "Cats", "paragraphs": [{"context": context, "qas": [
        {"id": f"q{i}", "question": "where is the cat ?", "is_impossible": False,
         "answers": [{"text": "big green tree", "answer_start": context.index("big")}]} for i in range(6)] + [
        {"id": "none", "question": "where is the dog ?", "is_impossible": True, "answers": []}]}]}]}
    with open(path, "w") as f:
        json.dump(data, f)
    return data


@pytest.mark.parametrize("version", ["squad", "squad2"])
def test_finetune_and_evaluate_squad(tmp_path, version):
    folder = tmp_path / "squad"
    folder.mkdir()
    files = ("train-v2.0.json", "dev-v2.0.json") if version == "squad2" else ("train-v1.1.json", "dev-v1.1.json")
    dataset = write_squad(str(folder / files[0]))
    write_squad(str(folder / files[1]))
    run_dir, metrics = finetune(model_dir(tmp_path), version, str(folder), output_dir=str(tmp_path / "runs"),
                                run_name=version, verbose=0, epochs=1, batch_size=4, max_seq_len=24,
                                doc_stride=8, max_query_len=8)
    out = os.path.join(run_dir, "predictions", "dev")
    predictions = json.load(open(os.path.join(out, "predictions.json")))
    assert sorted(predictions) == sorted(["none"] + [f"q{i}" for i in range(6)])
    # The metrics are the official scores of the predictions written.
    scores = evaluation.squad_scores(dataset, predictions)
    assert metrics["exact"] == pytest.approx(scores["exact"]) and metrics["f1"] == pytest.approx(scores["f1"])
    if version == "squad2":
        null_odds = json.load(open(os.path.join(out, "null_odds.json")))
        for qid, text in predictions.items():
            assert (text == "") == (null_odds[qid] > -2.75)
        assert "best_f1" in metrics and "NoAns_exact" in metrics
    else:
        assert not os.path.exists(os.path.join(out, "null_odds.json"))
    assert evaluate(run_dir, str(folder), "dev", verbose=0) == metrics


def test_a_missing_dev_file_is_named_before_the_training_set_is_read(tmp_path, monkeypatch):
    folder = tmp_path / "squad"
    folder.mkdir()
    write_squad(str(folder / "train-v1.1.json"))

    def no_reading(*args, **kwargs):
        raise AssertionError("the training set was read before the dev file was found")

    monkeypatch.setattr("electra_keras.data.squad.read_squad", no_reading)
    with pytest.raises(FileNotFoundError, match=r"dev-v1\.1\.json or dev\.json \(SQuAD 1\.1 dev set\)"):
        finetune(model_dir(tmp_path), "squad", str(folder), output_dir=str(tmp_path / "runs"), verbose=0)


def test_cli_finetune_custom_task_and_errors(tmp_path, capsys):
    model = model_dir(tmp_path)
    train, dev = tmp_path / "train.csv", tmp_path / "dev.csv"
    train.write_text("text,label\n" + "".join(f'"the {w} runs, quickly",{["neg", "pos"][i % 2]}\n'
                                              for i, w in enumerate(WORDS[:12])))
    dev.write_text("text,label\nthe cat runs,pos\nthe dog runs,neg\n")
    args = ["finetune", "--task", "custom", "--model", model, "--train", str(train), "--dev", str(dev),
            "--text-columns", "text", "--epochs", "1", "--batch-size", "4", "--max-seq-len", "12",
            "--output-dir", str(tmp_path / "runs"), "--run-name", "custom", "--quiet"]
    assert main(args + ["--head-first"]) == 0
    assert "finetune custom: dev accuracy" in capsys.readouterr().out
    run_dir = str(tmp_path / "runs" / "custom")
    record = json.load(open(os.path.join(run_dir, "finetune.json")))
    assert record["task"]["labels"] == ["neg", "pos"] and record["settings"]["head_first"] is True
    assert main(["evaluate", "--model", run_dir]) == 0  # the custom task's files are in the run
    assert "evaluate dev: accuracy" in capsys.readouterr().out

    dev.write_text("text,label\nthe cat runs,maybe\n")
    assert main(args + ["--overwrite"]) == 2
    assert "maybe" in capsys.readouterr().err  # a label outside the task's set, named
    assert main(["finetune", "--task", "sst-2", "--model", model]) == 2
    assert "--data-dir" in capsys.readouterr().err
    os.remove(os.path.join(model, "vocab.txt"))
    assert main(["finetune", "--task", "sst-2", "--model", model, "--data-dir", str(tmp_path)]) == 2
    assert "vocab" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(tmp_path)]) == 2
    assert "finetune.json" in capsys.readouterr().err


def test_mixed_precision_fine_tuning_is_close_to_float32(tmp_path):
    from electra_keras.finetuning import with_dtype

    backbone = ElectraPretrainer(tiny_config(), seed=0).backbone
    mixed = with_dtype(backbone, "mixed_bfloat16")
    assert mixed is not backbone and mixed.transformer_layers[0].dtype_policy.name == "mixed_bfloat16"
    assert with_dtype(mixed, "mixed_bfloat16") is mixed
    assert with_dtype(backbone, "float32") is backbone
    x = inputs()
    reference = ElectraClassifier(backbone, num_classes=2)
    model = ElectraClassifier(mixed, num_classes=2, dtype="mixed_bfloat16")
    model.get_layer("classifier").set_weights(reference.get_layer("classifier").get_weights())
    got = np_(model(x))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np_(reference(x)), atol=0.05)  # bfloat16 has 8 bits of mantissa
    path = str(tmp_path / "mixed.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.get_layer("classifier").dtype_policy.name == "mixed_bfloat16"
    np.testing.assert_allclose(np_(restored(x)), got, atol=1e-6)


def test_heads_and_layerwise_rates_on_a_keras_hub_backbone():
    import keras_hub

    from electra_keras.optimizers import layerwise_learning_rate_multipliers

    backbone = keras_hub.models.ElectraBackbone(vocab_size=160, num_layers=2, num_heads=2, hidden_dim=32,
                                                intermediate_dim=64, embedding_dim=24, max_sequence_length=32)
    model = ElectraClassifier(backbone, num_classes=2)
    x = inputs()
    dense = model.get_layer("classifier")
    expected = np_(backbone(x)["sequence_output"])[:, 0] @ np_(dense.kernel) + np_(dense.bias)
    np.testing.assert_allclose(np_(model(x)), expected, atol=1e-5)
    rates = layerwise_learning_rate_multipliers(model, backbone, 0.5)
    for variable in model.trainable_variables:
        path = variable.path
        if id(variable) not in {id(v) for v in backbone.trainable_variables}:
            assert rates[path] == 1.0, path
        elif "transformer_layer_1/" in path:
            assert rates[path] == 0.5, path
        elif "transformer_layer_0/" in path:
            assert rates[path] == 0.25, path
        else:  # embeddings, their LayerNorm and projection, and keras-hub's pooler
            assert rates[path] == 0.125, path
    spans = ElectraSpanExtractor(backbone, beam_size=2, hidden_dim=8)
    assert np_(spans(x)["start_top_index"]).shape == (6, 2)
    from electra_keras.optimizers import finetuning_adamw

    model.compile(optimizer=finetuning_adamw(model, backbone, learning_rate=1e-2, total_steps=4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = np_(dense.kernel).copy()
    model.fit(x, np.array([0, 1, 0, 1, 0, 1]), batch_size=3, epochs=2, verbose=0)  # the unused pooler too
    assert np.abs(np_(dense.kernel) - before).max() > 0
