"""SQuAD reading, sliding-window features and answer post-processing (pure Python + numpy)."""

import json

import numpy as np
import pytest

from conftest import small_vocab
from electra_keras.data import squad
from electra_keras.data.text import InputError
from electra_keras.data.tokenizer import WordPieceTokenizer

CONTEXT = "The old cats sleep under the big green tree near a small river."
# Word pieces of CONTEXT ("cats" is not in the vocab, so it splits into "cat" "##s"):
#   0 the  1 old  2 cat  3 ##s  4 sleep  5 under  6 the  7 big  8 green  9 tree  10 near  11 a
#   12 small  13 river  14 .
ANSWER = "the big green tree"  # words 5-8, pieces 6-9


def squad_json(**question_overrides):
    answerable = {
        "id": "q1",
        "question": "Where do cats sleep?",
        "answers": [{"text": ANSWER, "answer_start": CONTEXT.index(ANSWER)}],
        "is_impossible": False,
    }
    answerable.update(question_overrides)
    impossible = {
        "id": "q2",
        "question": "What eats stone?",
        "answers": [],
        "plausible_answers": [{"text": "cats", "answer_start": 8}],
        "is_impossible": True,
    }
    return {"version": "v2.0", "data": [
        {"title": "Animals", "paragraphs": [{"context": CONTEXT, "qas": [answerable, impossible]}]}
    ]}


def write_json(path, data):
    path.write_text(json.dumps(data))
    return str(path)


@pytest.fixture
def tokenizer(tmp_path):
    extra = ["##s", "where", "do", "sleep", "under", "near", "what", "?"]
    return WordPieceTokenizer(small_vocab(str(tmp_path / "vocab"), extra))


@pytest.fixture
def examples(tmp_path):
    return squad.read_squad(write_json(tmp_path / "train.json", squad_json()))


def featurize(examples, tokenizer):
    # Questions cut to 5 pieces; q1 leaves 16 - 5 - 3 = 8 context pieces a window, q2 (4 pieces)
    # leaves 9. Windows start every 4 pieces: q1 gets pieces 0-7, 4-11 and 8-14.
    return squad.featurize(examples, tokenizer, max_seq_len=16, doc_stride=4, max_query_len=5)


def test_read_squad_words_and_answer_span(examples):
    q1, q2 = examples
    assert q1.doc_tokens == "The old cats sleep under the big green tree near a small river.".split()
    assert (q1.qid, q1.answers, q1.start_word, q1.end_word, q1.is_impossible) == ("q1", [ANSWER], 5, 8, False)
    assert (q2.qid, q2.answers, q2.start_word, q2.end_word, q2.is_impossible) == ("q2", [], -1, -1, True)


def test_windows_tokens_positions_and_padding(examples, tokenizer):
    features = featurize(examples, tokenizer)
    assert [f.qid for f in features] == ["q1"] * 3 + ["q2"] * 3
    query = ["[CLS]", "where", "do", "cat", "##s", "sleep", "[SEP]"]  # "?" cut by max_query_len
    assert [f.tokens for f in features[:3]] == [
        query + "the old cat ##s sleep under the big".split() + ["[SEP]"],
        query + "sleep under the big green tree near a".split() + ["[SEP]"],
        query + "green tree near a small river .".split() + ["[SEP]"],
    ]
    # The answer (pieces 6-9) lies wholly in the middle window only, after the 7 query tokens.
    assert [(f.start_position, f.end_position) for f in features[:3]] == [(0, 0), (9, 12), (0, 0)]
    assert features[1].tokens[9:13] == ANSWER.split()
    assert [f.is_impossible for f in features] == [False] * 3 + [True] * 3
    assert all((f.start_position, f.end_position) == (0, 0) for f in features[3:])

    # "cats" is word 2 of the context, split into two pieces that both map to it.
    first = features[0]
    assert first.token_to_word == {7: 0, 8: 1, 9: 2, 10: 2, 11: 3, 12: 4, 13: 5, 14: 6}
    # Piece 6 ("the") is in windows 0 and 1: min(left, right) context is min(6, 1) = 1 in
    # window 0 and min(2, 5) = 2 in window 1, so window 1 scores it.
    assert first.token_is_max_context[13] is False
    assert features[1].token_is_max_context[9] is True
    # Piece 10 ("near"): min(6, 1) = 1 in window 1, min(2, 4) = 2 in window 2.
    assert features[1].token_is_max_context[13] is False
    assert features[2].token_is_max_context[9] is True

    last = features[2]  # 15 tokens: one padding position
    vocab = tokenizer.vocab
    np.testing.assert_array_equal(last.token_ids, [vocab[t] for t in last.tokens] + [0])
    np.testing.assert_array_equal(last.segment_ids, [0] * 7 + [1] * 8 + [0])
    np.testing.assert_array_equal(last.padding_mask, [1] * 15 + [0])

    arrays = squad.feature_arrays(features)
    assert {k: (v.shape, v.dtype.name) for k, v in arrays.items()} == {
        "token_ids": ((6, 16), "int32"), "segment_ids": ((6, 16), "int32"), "padding_mask": ((6, 16), "int32"),
        "start_positions": ((6,), "int32"), "end_positions": ((6,), "int32"), "is_impossible": ((6,), "float32"),
    }
    assert arrays["start_positions"].tolist() == [0, 9, 0, 0, 0, 0]
    assert arrays["is_impossible"].tolist() == [0, 0, 0, 1, 1, 1]


def test_answer_span_narrows_to_the_answer_pieces(tokenizer):
    # "river." is one whitespace word but two pieces; the answer "river" keeps only the first.
    words = CONTEXT.split()
    example = squad.SquadExample("q", "what?", CONTEXT, words, ["river"], 12, 12)
    (feature,) = squad.featurize([example], tokenizer, max_seq_len=32)
    assert feature.tokens[feature.start_position:feature.end_position + 1] == ["river"]


def outputs_for(features):
    """Beam outputs with K = 3; every beam not set below starts at [CLS] (invalid)."""
    n, k = len(features), 3
    out = {
        "start_top_log_probs": np.full((n, k), -10.0),
        "start_top_index": np.zeros((n, k), "int32"),
        "end_top_log_probs": np.full((n, k, k), -10.0),
        "end_top_index": np.zeros((n, k, k), "int32"),
        "answerable_logit": np.array([-1.0, -5.0, 3.0, 0.5, 1.0, 2.0]),
    }

    def beam(row, i, start, start_lp, ends, end_lps):
        out["start_top_index"][row, i], out["start_top_log_probs"][row, i] = start, start_lp
        out["end_top_index"][row, i, :len(ends)], out["end_top_log_probs"][row, i, :len(ends)] = ends, end_lps

    # q1, window 0: higher scores, all invalid.
    beam(0, 0, 13, 0.0, [14, 13], [0.0, 0.0])  # starts on "the", which window 1 scores
    beam(0, 1, 12, -0.01, [9, 8], [-0.01, -0.01])  # "under" (its max context), but ends before it
    # q1, window 1: the best valid span is "the big green tree" (9-12).
    beam(1, 0, 9, -0.1, [14, 12, 10], [-0.05, -0.2, -1.0])  # 9-14 is 6 > max_answer_length=5
    beam(1, 1, 3, -0.05, [12, 13], [-0.01, -0.01])  # starts in the question
    # q1, window 2: a weaker span, then the same span again (a duplicate text).
    beam(2, 0, 7, 0.0, [8], [0.0])  # "green": window 1 scores it
    beam(2, 1, 9, -1.0, [12, 12, 11], [-2.0, -2.5, -3.0])
    # q2, window 0: "old cats" (pieces 1-3, token 7-9 after a 4-piece question).
    beam(3, 0, 7, -0.5, [9], [-0.5])
    return out


def test_postprocess_best_valid_span(examples, tokenizer):
    features = featurize(examples, tokenizer)
    predictions, null_odds, nbest = squad.postprocess(
        examples, features, outputs_for(features), n_best_size=3, max_answer_length=5)
    assert predictions == {"q1": "the big green tree", "q2": "old cats"}
    assert null_odds == {}
    assert [e["text"] for e in nbest["q1"]] == ["the big green tree", "the big", "near a small river"]
    scores = np.array([-0.3, -1.1, -3.0])
    np.testing.assert_allclose([e["start_log_prob"] + e["end_log_prob"] for e in nbest["q1"]], scores)
    np.testing.assert_allclose([e["probability"] for e in nbest["q1"]], np.exp(scores) / np.exp(scores).sum())

    # Without the 5-piece limit the 6-piece span wins; the window-0 case comes back as written.
    predictions, _, _ = squad.postprocess(examples, features, outputs_for(features))
    assert predictions["q1"] == "the big green tree near a"


def test_postprocess_v2_null_odds_and_threshold(examples, tokenizer, tmp_path):
    features = featurize(examples, tokenizer)
    out = outputs_for(features)
    predictions, null_odds, _ = squad.postprocess(examples, features, out, max_answer_length=5, v2=True)
    # The null score is the lowest answerable logit over each question's windows.
    assert null_odds == {"q1": -5.0, "q2": 0.5}
    assert predictions == {"q1": "the big green tree", "q2": ""}  # 0.5 > -2.75
    predictions, _, _ = squad.postprocess(examples, features, out, max_answer_length=5, v2=True, na_threshold=1.0)
    assert predictions == {"q1": "the big green tree", "q2": "old cats"}

    # No valid span at all gives "".
    out["start_top_index"][:] = 0
    predictions, _, nbest = squad.postprocess(examples, features, out, v2=True, na_threshold=10.0)
    assert predictions == {"q1": "", "q2": ""}
    assert nbest["q1"] == [{"text": "", "probability": 1.0, "start_log_prob": 0.0, "end_log_prob": 0.0}]

    path = tmp_path / "predictions.json"
    squad.write_predictions(str(path), {"q1": "a b"})
    assert json.loads(path.read_text()) == {"q1": "a b"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("predictions")] == ["predictions.json"]


def test_get_final_text_projects_onto_the_original_words():
    assert squad.get_final_text("steve smith", "Steve Smith's") == "Steve Smith"
    assert squad.get_final_text("the old cats", "The old cats") == "The old cats"
    assert squad.get_final_text("cafe", "(Café)") == "Café"
    assert squad.get_final_text("1895", "(1895-1943).") == "1895"
    assert squad.get_final_text("nowhere", "Steve Smith") == "Steve Smith"  # projection fails


def test_training_answer_not_at_offset_is_skipped(tmp_path):
    path = write_json(tmp_path / "off.json", squad_json(answers=[{"text": ANSWER, "answer_start": 0}]))
    with pytest.warns(UserWarning, match=r"off.json: skipped 1 training question.*'q1'"):
        assert [e.qid for e in squad.read_squad(path)] == ["q2"]
    assert [e.qid for e in squad.read_squad(path, is_training=False)] == ["q1", "q2"]


def test_errors_name_file_article_and_question(tmp_path):
    data = squad_json()
    del data["data"][0]["paragraphs"][0]["qas"]
    with pytest.raises(InputError, match=r"bad.json: article 'Animals', paragraph 0: a paragraph without 'qas'"):
        squad.read_squad(write_json(tmp_path / "bad.json", data))

    data = squad_json()
    del data["data"][0]["paragraphs"][0]["qas"][0]["id"]
    with pytest.raises(InputError, match=r"bad.json: article 'Animals', paragraph 0, question #0: a question without 'id'"):
        squad.read_squad(write_json(tmp_path / "bad.json", data))

    data = squad_json(answers=[{"text": "river", "answer_start": 999}])
    with pytest.raises(InputError, match=r"'Animals', paragraph 0, question 'q1': answer_start 999 is outside the context"):
        squad.read_squad(write_json(tmp_path / "bad.json", data))

    data = squad_json()
    del data["data"][0]["paragraphs"][0]["qas"][0]["answers"]
    with pytest.raises(InputError, match=r"question 'q1': a question without 'answers'"):
        squad.read_squad(write_json(tmp_path / "bad.json", data))

    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match=r"bad.json: not a JSON file"):
        squad.read_squad(str(tmp_path / "bad.json"))
    with pytest.raises(InputError, match=r"bad.json: no 'data' list"):
        squad.read_squad(write_json(tmp_path / "bad.json", {"version": "v2.0"}))
