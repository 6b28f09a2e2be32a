import sys

from electra_keras_cli import main

sys.exit(main())
