"""Which word pieces look replaced: a pretrained discriminator run on raw text.

    import electra_keras as ek
    for found in ek.detect("saved_models/tiny-run", ["the cat sat on the river"]):
        print(found.format())        # the(.01) cat(.03) sat(.02) on(.04) the(.02) river(.87)

`electra-keras detect --model RUN "text" ...` prints the same, coloured on a terminal.
"""

import dataclasses
import os
import re

import numpy as np

RED, YELLOW, RESET = "\033[1;31m", "\033[33m", "\033[0m"


@dataclasses.dataclass
class Detection:
    """One text: its word pieces and the discriminator's P(replaced) for each."""

    text: str
    pieces: list
    probabilities: np.ndarray  # (pieces,) float
    truncated: bool = False  # the text had more pieces than the model's positions

    def format(self, color=False, threshold=0.5):
        """`piece(.93)` for every piece; with `color`, red at or above `threshold`, yellow above half of it."""
        shown = []
        for piece, p in zip(self.pieces, self.probabilities):
            item = f"{piece}({p:.2f})".replace("(0.", "(.").replace("(1.00)", "(1.0)")
            if color and p >= threshold:
                item = f"{RED}{item}{RESET}"
            elif color and p >= threshold / 2:
                item = f"{YELLOW}{item}{RESET}"
            shown.append(item)
        return " ".join(shown) + (" [truncated]" if self.truncated else "")


def _load(model, tokenizer):
    """(discriminator keras model, tokenizer, number of positions) from a directory or objects."""
    if isinstance(model, (str, os.PathLike)):
        from electra_keras.convert.native import load_model_directory

        loaded = load_model_directory(model, "discriminator" if os.path.isfile(
            os.path.join(model, "discriminator.keras")) else None)
        if loaded.kind not in ("discriminator", "pretrainer"):
            raise ValueError(f"{model}: holds a {loaded.kind}, not a discriminator (an MLM run has none)")
        discriminator = loaded.model if loaded.kind == "discriminator" else loaded.model.discriminator
        return discriminator, tokenizer or loaded.tokenizer, loaded.config.max_sequence_length
    if tokenizer is None:
        raise ValueError("detect: a model object needs its tokenizer (tokenizer=WordPieceTokenizer(...))")
    discriminator = getattr(model, "discriminator", None) or model
    return discriminator, tokenizer, 512


def detect(model, texts, tokenizer=None, batch_size=32, max_length=None):
    """The discriminator's P(replaced) for every word piece of each text.

    Args:
        model: a model directory (a pretraining run, or a checkpoint converted by
            `electra-keras convert`), or a discriminator / `ElectraPretrainer` object.
        texts: a string or a list of strings; each is one segment: [CLS] text [SEP].
        tokenizer: the model's `WordPieceTokenizer`; a directory brings its own.
        batch_size: texts per forward pass.
        max_length: longest input in pieces, [CLS] and [SEP] included (default: the model's
            positions); longer texts are cut and marked `truncated`.

    Returns:
        a list of `Detection`, one per text.
    """
    if isinstance(texts, str):
        texts = [texts]
    discriminator, tokenizer, positions = _load(model, tokenizer)
    max_length = min(max_length or positions, positions)
    ids = tokenizer.special_ids
    encoded = [tokenizer.encode(t) for t in texts]
    results = []
    for start in range(0, len(texts), batch_size):
        chunk = [e[: max_length - 2] for e in encoded[start:start + batch_size]]
        width = max(len(e) for e in chunk) + 2
        token_ids = np.zeros((len(chunk), width), "int32")
        padding = np.zeros((len(chunk), width), "int32")
        for row, pieces in enumerate(chunk):
            token_ids[row, : len(pieces) + 2] = [ids["cls_token_id"], *pieces, ids["sep_token_id"]]
            padding[row, : len(pieces) + 2] = 1
        inputs = {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids), "padding_mask": padding}
        logits = np.asarray(discriminator.predict(inputs, batch_size=len(chunk), verbose=0), "float64")
        probabilities = 1.0 / (1.0 + np.exp(-logits))
        for row, pieces in enumerate(chunk):
            index = start + row
            results.append(Detection(
                text=texts[index],
                pieces=[tokenizer.tokens[i] for i in pieces],
                probabilities=probabilities[row, 1 : len(pieces) + 1],
                truncated=len(encoded[index]) > len(pieces),
            ))
    return results


# ---- the closing demo of a pretraining run -----------------------------------------------------------


def _words(pieces):
    """Word pieces -> words ("##" pieces joined to the one before)."""
    words = []
    for piece in pieces:
        if piece.startswith("##") and words:
            words[-1] += piece[2:]
        else:
            words.append(piece)
    return words


def swapped_sentences(token_ids, tokenizer, count=2, seed=0, min_words=8, max_words=25):
    """Held-out sentences with one word swapped for a word of another sentence.

    Sentences are read off packed examples ((examples, seq) ids: [CLS] A [SEP] B [SEP]),
    ending at ".", "!" or "?"; the swapped word is an alphabetic word of three or more letters,
    neither the first nor the last, and its replacement a different such word.

    Returns:
        a list of (swapped sentence, original word, new word).
    """
    rng = np.random.default_rng(seed)
    special = set(tokenizer.special_ids.values())
    sentences = []
    for row in np.asarray(token_ids):
        words = _words([tokenizer.tokens[i] for i in row if i not in special and i != 0])
        sentence = []
        for word in words:
            sentence.append(word)
            if word in (".", "!", "?"):
                if min_words <= len(sentence) <= max_words and sentence[0].isalpha():
                    sentences.append(sentence)
                sentence = []
    if len(sentences) < count + 1:
        return []
    swappable = [[i for i, w in enumerate(s[1:-2], 1) if w.isalpha() and len(w) >= 3] for s in sentences]
    chosen = [i for i in rng.permutation(len(sentences)) if swappable[i]][:count]
    results = []
    for i in chosen:
        donors = [w for j, s in enumerate(sentences) if j != i for w in s if w.isalpha() and len(w) >= 3]
        position = swappable[i][rng.integers(len(swappable[i]))]
        original = sentences[i][position]
        new = rng.choice([w for w in donors if w != original])
        words = list(sentences[i])
        words[position] = str(new)
        text = re.sub(r" ([.,;:!?)'])", r"\1", " ".join(words)).replace("( ", "(")
        results.append((text, original, str(new)))
    return results


def print_demo(discriminator, tokenizer, token_ids, color=False, seed=0, print_=print):
    """The closing demo: two held-out sentences with a word swapped, each piece's P(replaced)."""
    swaps = swapped_sentences(token_ids, tokenizer, seed=seed)
    if not swaps:
        return []
    found = detect(discriminator, [text for text, _, _ in swaps], tokenizer=tokenizer)
    print_("detect: the discriminator on held-out sentences, one word swapped (P(replaced) per piece):")
    for (text, original, new), detection in zip(swaps, found):
        print_(f'  "{original}" -> "{new}": {detection.format(color=color)}')
    return found


__all__ = ["Detection", "detect", "swapped_sentences", "print_demo"]
