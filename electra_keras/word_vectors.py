"""Word vectors counted from the pretraining text, to start (or hold) the token table with.

`train.token_table = "counted"` starts the pretrainer's token table from vectors counted from
its own training examples, `"counted_frozen"` also keeps it there for the whole run (the
optimizer never sees it; fine-tuning trains it as usual). The counting is the classic
distributional recipe (Levy, Goldberg & Dagan, TACL 2015): co-occurrences of word pieces within
`window` pieces, positive PMI with the context distribution raised to 0.75, truncated SVD
(U sqrt(S)): what a short pretraining from random weights does not learn about words, counting
finds in seconds. Held out, a tiny encoder pretrained this way on a task's own text fine-tunes
within seed noise of random initialisation (docs/quality.md).

    pretrainer = ElectraPretrainer(config, freeze_token_table=True)   # "counted_frozen"
    vectors, tokens = count_vectors(files, tokenizer, dims=64)        # (vocab, 64); zero rows: unseen
    set_token_table(pretrainer, vectors)
"""

import numpy as np

WINDOW = 5
PPMI_ALPHA = 0.75
TOKEN_TABLES = ("random", "counted", "counted_frozen")  # train.token_table


def cooccurrence(rows, vocab_size, window=WINDOW):
    """Symmetric counts of piece pairs at most `window` apart within a row: sparse (V, V)."""
    import scipy.sparse as sp

    left = [row[:-k] for row in rows for k in range(1, window + 1) if len(row) > k]
    right = [row[k:] for row in rows for k in range(1, window + 1) if len(row) > k]
    if not left:
        return sp.csr_matrix((vocab_size, vocab_size))
    i, j = np.concatenate(left), np.concatenate(right)
    counts = sp.coo_matrix((np.ones(len(i)), (i, j)), shape=(vocab_size, vocab_size)).tocsr()
    return (counts + counts.T).tocsr()


def ppmi(counts, alpha=PPMI_ALPHA):
    """Positive PMI of a (V, V) count matrix, the context distribution raised to `alpha`."""
    import scipy.sparse as sp

    counts = counts.tocoo()
    total = counts.sum()
    words = np.asarray(counts.sum(1)).ravel() / total
    contexts = np.asarray(counts.sum(0)).ravel() ** alpha
    contexts = contexts / contexts.sum()
    pmi = np.log(counts.data / total / (words[counts.row] * contexts[counts.col]))
    keep = pmi > 0
    return sp.csr_matrix((pmi[keep], (counts.row[keep], counts.col[keep])), shape=counts.shape)


def svd_vectors(matrix, dims, seed=0):
    """U sqrt(S) of `matrix`'s rank-`dims` truncated SVD (ARPACK, `scipy.sparse.linalg.svds`),
    largest singular value first, each column's sign fixed so its largest entry is positive."""
    from scipy.sparse.linalg import svds

    u, s, _ = svds(matrix.astype("float64"), k=dims, random_state=seed)
    order = np.argsort(s)[::-1]
    u, s = u[:, order], s[order]
    u = u * np.sign(u[np.abs(u).argmax(0), np.arange(dims)])
    return u * np.sqrt(s)


def randomized_svd_vectors(matrix, dims, seed=0, power_iterations=12):
    """`svd_vectors` by randomised range finding (Halko et al. 2011): quicker, but its last
    components are not converged on a PPMI matrix (whose spectrum decays slowly), so they
    change with `seed`. The benchmarks' recorded results (count_vectors.py, task_text_screen.py)
    were counted with it."""
    rng = np.random.default_rng(seed)
    q = np.linalg.qr(matrix @ rng.standard_normal((matrix.shape[1], dims + 10)))[0]
    for _ in range(power_iterations):
        q = np.linalg.qr(matrix @ np.linalg.qr(matrix.T @ q)[0])[0]
    u, s, _ = np.linalg.svd(q.T @ matrix, full_matrices=False)
    return (q @ u[:, :dims]) * np.sqrt(s[:dims])


def count_vectors(files, tokenizer, dims, seq_len=None, window=WINDOW, skip_examples=0, chunk=4096):
    """(len(tokenizer), dims) PPMI-SVD vectors counted from every example of the shards `files`
    (`skip_examples` of each shard left out: the probe's), ordinary pieces only ([CLS], [SEP],
    [PAD] and the like are dropped before counting, so windows run across them). Pieces without a
    positive PMI (never seen, the specials) get zero rows. Returns (vectors, tokens counted)."""
    import scipy.sparse as sp

    from electra_keras.data.pretraining import pretraining_dataset

    vocab_size = len(tokenizer)
    ordinary = np.zeros(vocab_size, bool)
    ordinary[tokenizer.ordinary_ids] = True
    counts, tokens = sp.csr_matrix((vocab_size, vocab_size)), 0
    examples = pretraining_dataset(files, 1, seq_len, shuffle=False, repeat=False, skip_examples=skip_examples)
    for batch in examples.unbatch().batch(chunk):
        ids = batch["token_ids"].numpy()
        keep = (batch["padding_mask"].numpy() > 0) & ordinary[ids]
        rows = [row[mask] for row, mask in zip(ids, keep)]
        tokens += int(keep.sum())
        counts = counts + cooccurrence(rows, vocab_size, window)
    if not counts.nnz:
        raise ValueError(f"train.token_table: no two word pieces within {window} of each other in "
                         f"{len(files)} shard(s); nothing to count vectors from (use token_table = \"random\")")
    matrix = ppmi(counts)
    vectors = svd_vectors(matrix, min(dims, vocab_size - 1))
    vectors[matrix.getnnz(1) == 0] = 0  # such rows are in the null space: exactly zero, not ARPACK's rounding
    return vectors, tokens


def counted_table(table, vectors):
    """`table` (V, E) with the rows of pieces the count vectors know (a row not all zero) replaced
    by those vectors' first E columns, scaled so their root mean square is the table's; other
    rows kept (float64)."""
    known = np.abs(vectors).sum(1) > 0
    vectors = np.asarray(vectors)[:, :table.shape[1]]
    new = np.array(table, dtype="float64")
    new[known, :vectors.shape[1]] = vectors[known] * np.sqrt(np.mean(new ** 2) / np.mean(vectors[known] ** 2))
    return new


def set_token_table(pretrainer, vectors):
    """Start every token table of `pretrainer` (`ElectraPretrainer.token_tables`) from `vectors`
    (`counted_table`)."""
    from keras import ops

    for table in pretrainer.token_tables():
        table.assign(counted_table(ops.convert_to_numpy(table), vectors).astype(table.dtype))
