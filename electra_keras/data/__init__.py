"""Data sources for pretraining. Data code never imports the models."""

from electra_keras.data.synthetic import markov_corpus

__all__ = ["markov_corpus"]
