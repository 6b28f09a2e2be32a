"""The held-out benchmark's own logic: reading and splitting its tasks, choosing a setting on the
choosing task alone, and the margins its report gives (benchmarks/heldout.py).

Plain Python on hand-made files and numbers: nothing here builds a model, so it runs the same
under every backend.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import heldout  # noqa: E402


def test_trec_questions_once_each_with_their_coarse_class(tmp_path):
    path = tmp_path / "question_labels.txt"
    path.write_text("DESC:manner How did serfdom develop ?\n"
                    "LOC:country What Asian country once thrilled to cricket fighting ?\n"
                    "DESC:manner How did serfdom develop ?\n"  # the file repeats its questions
                    "NUM:date When was Ozzy Osbourne born ?\n", encoding="utf-8")
    assert heldout.read_trec(str(path)) == [
        ("How did serfdom develop ?", "DESC"),
        ("What Asian country once thrilled to cricket fighting ?", "LOC"),
        ("When was Ozzy Osbourne born ?", "NUM"),
    ]


def test_vader_snippets_by_the_sign_of_their_mean_rating(tmp_path):
    path = tmp_path / "amazon.txt"
    path.write_text("id\tsentiment\ttext\n"
                    "1_1\t-0.9\tno picture,  scrolling b/w.\n"
                    "1_2\t0.0\tthe box it came in.\n"  # neutral: left out
                    "1_3\t1.65\tworks  great\n"
                    "1_4\t0.05\ta tab\tinside\n", encoding="utf-8")  # only the first two tabs split
    assert heldout.read_vader(str(path)) == [
        ("a tab inside", "positive"), ("no picture, scrolling b/w.", "negative"), ("works great", "positive")]


def test_split_is_seeded_disjoint_and_complete(tmp_path, monkeypatch):
    monkeypatch.setattr(heldout, "TEST_SIZE", 3)
    pairs = [(f"text {i}", "ab"[i % 2]) for i in range(10)]

    def read(folder):
        paths = heldout.split_files(str(folder), "toy", list(pairs))
        rows = {}
        for split, path in paths.items():
            lines = open(path, encoding="utf-8").read().splitlines()
            assert lines[0] == "text\tlabel"
            rows[split] = [tuple(line.split("\t")) for line in lines[1:]]
        return rows

    first, again = read(tmp_path / "a"), read(tmp_path / "b")
    assert first == again  # a function of the data and the seed
    assert len(first["test"]) == 3 and len(first["train"]) == 7
    assert sorted(first["test"] + first["train"]) == sorted(pairs)
    assert first["test"] != pairs[:3]  # shuffled, not the file's order


def test_the_setting_is_chosen_on_the_choosing_task_by_its_mean(monkeypatch):
    monkeypatch.setattr(heldout, "GRID", {"learning_rate": (1e-4, 1e-3), "epochs": (3,), "head_first": (False,)})
    scores = {(1e-4, 0): 0.70, (1e-4, 1): 0.60, (1e-3, 0): 0.66, (1e-3, 1): 0.66}
    calls = []

    class Results:
        def run(self, args, encoder, task, setting, seed):
            calls.append(task)
            return scores[(setting["learning_rate"], seed)]

    args = heldout.parse_args(["--choose-seeds", "2"])
    # 0.65 mean at 1e-4 against 0.66 at 1e-3: the better single seed does not decide
    setting, score = heldout.choose(args, Results(), ("random", 0, 0.0, "dir"))
    assert setting["learning_rate"] == 1e-3 and score == 0.66
    assert set(calls) == {heldout.CHOOSE}


def test_report_margins_are_against_random_initialisation_with_the_same_vocabulary(tmp_path):
    args = heldout.parse_args(["--out", str(tmp_path), "--tasks", "trec6", "amazon", "--seeds", "2"])
    setting = {"learning_rate": 3e-4, "epochs": 10, "head_first": True}
    table = {
        ("random", 0, "trec6"): heldout.summary([0.60, 0.62]),
        ("random", 0, "amazon"): heldout.summary([0.70, 0.70]),
        ("general", 6000, "trec6"): heldout.summary([0.64, 0.64]),
        ("general", 6000, "amazon"): heldout.summary([0.66, 0.68]),
        ("random_task_vocab", 0, "trec6"): heldout.summary([0.50, 0.50]),
        ("task_text", 1500, "trec6"): heldout.summary([0.55, 0.57]),
        ("random_wide", 0, "trec6"): heldout.summary([0.58, 0.58]),
        ("wide", 2000, "trec6"): heldout.summary([0.61, 0.61]),
    }
    chosen = {k: {"setting": setting, "choose_score": 0.65, "flops": 2e13, "minutes": 30.0}
              for k in {(f, s) for f, s, _ in table}}
    heldout.write_report(args, table, chosen, {"rotten_tomatoes": 0.586, "trec6": 0.239, "amazon": 0.585}, "cmd", 60.0)
    rows = {line.split(" | ")[0].strip("| "): line for line in open(tmp_path / "heldout.md").read().splitlines()
            if line.startswith("| ")}
    # general: +3.0 on trec6 (64 - 61), -3.0 on amazon (67 - 70), mean 0.0
    assert "64.0 ± 0.0 (+3.0)" in rows["general"] and "67.0 ± 1.4 (-3.0)" in rows["general"]
    assert rows["general"].endswith("| +0.0 |")
    # task_text against its own vocabulary's random initialisation: 56 - 50
    assert "56.0 ± 1.4 (+6.0)" in rows["task_text"] and rows["task_text"].endswith("| +6.0 |")
    # wide against the random initialisation of its own width: 61 - 58, not 61 - 61
    assert "61.0 ± 0.0 (+3.0)" in rows["wide"]
    assert "(+" not in rows["random"] and "(+" not in rows["random_wide"] and "58.6 | 23.9 | 58.5" in rows["majority class"]
    assert (tmp_path / "heldout.png").stat().st_size > 0


def test_small_corpus_keeps_every_eighth_document_of_each_file(tmp_path):
    data = tmp_path / "data"
    (data / "wiki_leads").mkdir(parents=True)
    (data / "public_domain").mkdir()
    leads = [f'{{"text": "lead {i}"}}' for i in range(17)]
    (data / "wiki_leads" / "wiki_leads.jsonl").write_text("\n".join(leads) + "\n")
    paragraphs = [f"Paragraph {i} line one.\nline two of {i}." for i in range(10)]
    for name in ("moby_dick.txt", "state_of_the_union.txt"):
        (data / "public_domain" / name).write_text("\n\n".join(paragraphs) + "\n")
    args = heldout.parse_args(["--data", str(data), "--work", str(tmp_path / "work")])
    jsonl, moby, sotu = heldout.small_corpus(args)
    assert open(jsonl).read().splitlines() == [leads[0], leads[8], leads[16]]
    assert open(moby).read() == open(sotu).read() == paragraphs[0] + "\n\n" + paragraphs[8] + "\n"
