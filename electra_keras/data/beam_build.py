"""`build-data --runner beam`: the local builder's shards, built by an Apache Beam pipeline.

The pipeline has three steps:
1. one sequential read of the input that cuts it into the local builder's chunks
   (`build._chunks`), so chunk i, and therefore shard i, is what the local build makes of it;
   chunks whose shard is already whole are skipped, so a rerun resumes. Each chunk's lines are
   staged as a file under the output directory (`STAGING_DIR`), and only its name goes on;
2. a Reshuffle, which spreads the chunk names over the workers (without it the runner would
   fuse the steps and build every shard on the reading worker); in a batch pipeline it is a
   barrier, so building starts once the whole input has been read. Only names pass through
   it, so no runner holds the text in memory (the DirectRunner holds what goes through);
3. a step that builds each shard with the local builder's function (`build._build_shard`:
   tokenize, pack seeded by (seed, i), shuffle, write under a temporary name, rename) from
   the staged lines, then removes them, with the tokenizer loaded from the output directory
   once per DoFn instance.

Workers read the input and write the shards and their ``.stats.json`` sidecars themselves; once
the pipeline is done, the driver sums the sidecars into ``data_info.json`` as the local builder
does. So the input files and the output directory must be paths every worker reaches: any
local path for the DirectRunner; a shared filesystem (NFS, a bucket mounted with FUSE) mounted
at the same path on every worker for Dataflow, Flink or Spark.
"""

import contextlib
import io
import os
import pickle
import re
import shlex
import shutil

try:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
except ImportError as error:
    raise ImportError('build-data --runner beam needs Apache Beam: pip install "electra-keras[beam]"') from error

from electra_keras.atomic import atomic_path
from electra_keras.data import build


def pipeline_options(beam_options=None, num_workers=None):
    """Beam `PipelineOptions` from flags, checked before anything is written.

    Args:
      beam_options: Beam's command-line flags as one string ("--runner=DataflowRunner
        --project=my-project") or a list of strings; None or "" runs Beam's DirectRunner.
      num_workers: must be None: the Beam runner decides how many workers build shards.

    Returns:
      A `PipelineOptions`. Raises ValueError for a flag Beam does not know (Beam itself would
      drop it with a warning and run on, perhaps on the DirectRunner), a value it cannot
      parse, or unbalanced quotes.
    """
    if num_workers is not None:
        raise ValueError(
            f"num_workers={num_workers}: with the Beam runner, Beam decides the parallelism "
            f"(the DirectRunner: beam_options='--direct_num_workers=N --direct_running_mode=multi_processing')"
        )
    if isinstance(beam_options, str):
        try:
            flags = shlex.split(beam_options)
        except ValueError as error:
            raise ValueError(f"beam options {beam_options!r}: {error}") from None
    else:
        flags = list(beam_options or [])
    options = PipelineOptions(flags)
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):  # argparse prints Beam's whole usage before exiting
            known = options.get_all_options()
            everything = options.get_all_options(retain_unknown_options=True)
    except SystemExit:
        reason = errors.getvalue().strip().splitlines()[-1].split("error: ", 1)[-1]
        raise ValueError(f"beam options {' '.join(flags)!r}: {reason}") from None
    unknown = sorted(set(everything) - set(known))
    if unknown:
        raise ValueError(
            f"beam options {' '.join(flags)!r}: Apache Beam has no option "
            + ", ".join(f"--{name}" for name in unknown)
            + " (see `python -m apache_beam.examples.wordcount --help` for the ones it has)"
        )
    return options


STAGING_DIR = ".chunks"  # under the output directory: each chunk's lines until its shard is built


def _staged_path(output_dir, index):
    return os.path.join(output_dir, STAGING_DIR, f"chunk-{index:05d}.pickle")


class _ReadChunks(beam.DoFn):
    """The input, read once in order: each chunk whose shard is still to build is staged as a
    file; yields (index, staged path, read_stats)."""

    def __init__(self, files, shard_bytes, read_options, output_dir):
        self.files, self.shard_bytes, self.read_options = files, shard_bytes, read_options
        self.output_dir = output_dir

    def process(self, _):
        for index, lines, read_stats, _ in build._chunks(self.files, self.shard_bytes, self.read_options):
            if build._load_done(self.output_dir, index) is None:  # a whole shard from an earlier run stays
                path = _staged_path(self.output_dir, index)
                with atomic_path(path) as tmp, open(tmp, "wb") as f:
                    pickle.dump(lines, f, protocol=pickle.HIGHEST_PROTOCOL)
                yield index, path, read_stats


class _BuildShards(beam.DoFn):
    """Builds each staged chunk's shard as the local builder's workers do, then removes the chunk."""

    def __init__(self, output_dir, settings):
        self.output_dir, self.settings = output_dir, settings

    def setup(self):
        build._init_worker(self.output_dir, self.settings)  # the tokenizer the driver saved there

    def process(self, chunk):
        index, path, read_stats = chunk
        if build._load_done(self.output_dir, index) is None:  # a retried bundle may find it built
            try:
                with open(path, "rb") as f:
                    lines = pickle.load(f)
            except FileNotFoundError:
                raise RuntimeError(
                    f"{path}: the staged chunk of shard {index} is not there; is the output directory "
                    f"the same filesystem on every worker?"
                ) from None
            build._build_shard(index, lines, read_stats, self.output_dir)
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
        yield index


def _shard_records(output_dir):
    """{index: stats record} of the whole shards in `output_dir`; their indexes must run 0..n-1."""
    pattern = re.compile(re.escape(build.SHARD_PREFIX) + r"-(\d+)\.tfrecord\.stats\.json$")
    indexes = sorted(int(m.group(1)) for m in map(pattern.match, os.listdir(output_dir)) if m)
    records = {i: build._load_done(output_dir, i) for i in indexes}
    records = {i: record for i, record in records.items() if record is not None}
    if records and sorted(records) != list(range(len(records))):
        missing = sorted(set(range(max(records) + 1)) - set(records))
        raise RuntimeError(
            f"{output_dir}: the pipeline finished but shards {missing[:5]} are missing; "
            f"is the output directory the same filesystem on every worker?"
        )
    return records


def run_pipeline(files, shard_bytes, read_options, settings, output_dir, options):
    """Builds the shards with Beam; returns {index: stats record} read back from `output_dir`.

    Args:
      files: the input files, in the order the local builder reads them.
      shard_bytes: text per chunk, as the local builder cuts it.
      read_options: `iter_lines` options.
      settings: the build settings (`build._settings`), for the workers.
      output_dir: holds the tokenizer already; gets the shards and their stats, and the staged
        chunks meanwhile (as much disk as the text they hold, each removed once its shard is built).
      options: `PipelineOptions` (see `pipeline_options`).
    """
    files = [os.path.abspath(f) for f in files]  # workers do not share the driver's working directory
    output_dir = os.path.abspath(output_dir)
    staging = os.path.join(output_dir, STAGING_DIR)
    shutil.rmtree(staging, ignore_errors=True)  # chunks an interrupted run left
    os.makedirs(staging)
    with beam.Pipeline(options=options) as pipeline:
        _ = (
            pipeline
            | "Start" >> beam.Create([None])
            | "ReadChunks" >> beam.ParDo(_ReadChunks(files, shard_bytes, read_options, output_dir))
            | "SpreadChunks" >> beam.Reshuffle()
            | "BuildShards" >> beam.ParDo(_BuildShards(output_dir, settings))
        )
    shutil.rmtree(staging, ignore_errors=True)
    return _shard_records(output_dir)
