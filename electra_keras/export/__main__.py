"""`python -m electra_keras.export MODEL_DIR FORMAT OUTPUT_DIR QUANTIZE SEQ_LEN`: the child process
that `export` starts under the TensorFlow backend when called from another backend."""

import sys

from electra_keras.export import main

sys.exit(main(sys.argv[1:]))
