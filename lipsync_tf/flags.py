"""Every command-line flag, defined once, one function per executable in bin/.

Each `bin/` script calls the one `define_*_flags()` it needs before `app.run(main)`, so `--help`
lists exactly that command's flags and `--flagfile` works everywhere.
"""

from absl import flags

FLAGS = flags.FLAGS
