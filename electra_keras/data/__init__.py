"""Data: text reading, WordPiece vocabularies, packed TFRecord shards and their tf.data reader.

Data code never imports the models.
"""

from electra_keras.data import squad, tasks
from electra_keras.data.build import build_pretraining_data
from electra_keras.data.packing import ExampleBuilder, ExamplePlanner, pack_arrays, pack_lines
from electra_keras.data.pretraining import list_shards, pretraining_dataset, read_data_info, verify_shards
from electra_keras.data.text import InputError, find_text_files, iter_lines, split_sentences
from electra_keras.data.tokenizer import WordPieceTokenizer, build_vocab, load_vocab

__all__ = [
    "ExampleBuilder",
    "ExamplePlanner",
    "InputError",
    "WordPieceTokenizer",
    "build_pretraining_data",
    "build_vocab",
    "find_text_files",
    "iter_lines",
    "list_shards",
    "load_vocab",
    "pack_arrays",
    "pack_lines",
    "pretraining_dataset",
    "read_data_info",
    "squad",
    "tasks",
    "split_sentences",
    "verify_shards",
]
