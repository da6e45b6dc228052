"""Implicit ALS on Spark: the collaborative fit that grows with the event log, moved off the worker.

The worker writes the training events to Parquet in chunks (pyarrow, one row group per chunk, never
one frame of the whole log), Spark sums each (shopper, product)'s interest weights, damps them with
log1p as the local fit does (``frames.strength_matrix``) and trains MLlib's ALS with
``implicitPrefs``. Only the item factors come back: the engine folds every shopper in at request
time against them, exactly as with the local ALS, so serving, explanations and the model file do
not know which backend fitted them.

Two conventions of MLlib's ALS differ from ``implicit``'s and are kept as they are (the hyperparameter
values are passed through unchanged; ``bench/spark_vs_local.py`` measures what it costs): the
confidence of an observed cell is ``1 + alpha * strength`` (``implicit``: ``alpha * strength``), and
each row's ridge penalty is ``regularization`` times its number of observed cells (``implicit``: one
``regularization`` for every row).

pyspark is an optional extra (``pip install -e '.[spark]'``) and needs a Java runtime; nothing here
imports it before a fit is asked for, and :func:`check_spark` says plainly what is missing.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from shop.recommend.implicit_mf import ALSModel
from shop.recommend.sources import ALSEvents

log = logging.getLogger(__name__)

DEFAULT_MASTER = "local[*]"
#: Rows per Parquet row group: bounds what the worker holds while writing.
CHUNK_ROWS = 500_000
SPARK_MISSING = (
    "The spark backend needs pyspark (pip install -e '.[spark]') and a Java runtime "
    "(java on PATH or JAVA_HOME; on Debian: apt-get install openjdk-17-jre-headless)"
)
#: Spark's own logging, quiet: errors only, on stderr.
_LOG4J = """\
rootLogger.level = error
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""


@contextmanager
def _quiet_imports() -> Iterator[None]:
    """pyspark warns at import that it has not been tested with pandas 3; nothing here hands it
    pandas frames (Parquet in, item factors out as rows), so that warning says nothing about us."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet", category=FutureWarning)
        yield


class SparkUnavailable(RuntimeError):
    """pyspark or Java is missing: the spark backend cannot run on this host."""


def check_spark() -> None:
    """Raise :class:`SparkUnavailable` with what to install, before any run is recorded."""
    missing = [
        f"{name} is not installed"
        for name in ("pyspark", "pyarrow")
        if importlib.util.find_spec(name) is None
    ]
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and Path(java_home, "bin", "java").exists()) and not shutil.which("java"):
        missing.append("no Java runtime found")
    if missing:
        raise SparkUnavailable(f"{SPARK_MISSING}: {'; '.join(missing)}.")


def write_events(
    path: Path,
    users: np.ndarray,
    items: np.ndarray,
    weights: np.ndarray,
    days: np.ndarray,
    chunk_rows: int = CHUNK_ROWS,
) -> int:
    """Coded events as one Parquet file in row groups of ``chunk_rows``; returns the rows written."""
    with EventWriter(path) as writer:
        for start in range(0, len(users), chunk_rows):
            stop = start + chunk_rows
            writer.write(
                users[start:stop], items[start:stop], weights[start:stop], days[start:stop]
            )
    return writer.rows


class EventWriter:
    """Appends chunks of coded events to one Parquet file: the only shape Spark reads here.

    Columns: ``user`` (int32, a shopper code), ``item`` (int32, a catalogue position), ``weight``
    (float64, the event's interest weight) and ``day`` (float64 days since the epoch, NaN unknown).
    """

    def __init__(self, path: Path) -> None:
        import pyarrow as pa

        self.path = Path(path)
        self.schema = pa.schema(
            [
                ("user", pa.int32()),
                ("item", pa.int32()),
                ("weight", pa.float64()),
                ("day", pa.float64()),
            ]
        )
        self.rows = 0
        self._writer: Any = None

    def write(
        self, users: np.ndarray, items: np.ndarray, weights: np.ndarray, days: np.ndarray
    ) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not len(users):
            return
        if users.max(initial=0) >= 2**31 or items.max(initial=0) >= 2**31:
            raise ValueError("shopper and product codes must fit in 32 bits for Spark's ALS")
        batch = pa.record_batch(
            [
                pa.array(np.asarray(users, dtype=np.int32)),
                pa.array(np.asarray(items, dtype=np.int32)),
                pa.array(np.asarray(weights, dtype=np.float64)),
                pa.array(np.asarray(days, dtype=np.float64), from_pandas=False),
            ],
            schema=self.schema,
        )
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, self.schema, compression="snappy")
        self._writer.write_batch(batch)
        self.rows += len(users)

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        import pyarrow.parquet as pq

        if self._writer is None:  # no rows: still a valid (empty) file for Spark to read
            self._writer = pq.ParquetWriter(self.path, self.schema)
        self._writer.close()


class SparkALS:
    """An ``ItemFactorFitter`` (see ``shop.recommend.sources``) that trains MLlib's ALS on Spark.

    Use it as a context manager: the session starts at the first fit (small memory settings, quiet
    logs, no web UI) and stops when the block ends, so a worker holds no JVM between retrains.
    ``staging_dir`` is where the Parquet parts go; on a real cluster it must be a path every
    executor can read (a shared mount).
    """

    def __init__(
        self,
        master: str = DEFAULT_MASTER,
        *,
        driver_memory: str = "1g",
        shuffle_partitions: int = 8,
        staging_dir: str | os.PathLike[str] | None = None,
        extra_conf: Mapping[str, str] | None = None,
    ) -> None:
        self.master = master
        self.driver_memory = driver_memory
        self.shuffle_partitions = shuffle_partitions
        self.staging_dir = staging_dir
        self.extra_conf = dict(extra_conf or {})
        self.fits = 0
        self._spark: Any = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SparkALS:
        """The fitter the app's settings describe (SPARK_MASTER, SPARK_DRIVER_MEMORY...)."""
        return cls(
            config.get("SPARK_MASTER") or DEFAULT_MASTER,
            driver_memory=config.get("SPARK_DRIVER_MEMORY") or "1g",
            shuffle_partitions=int(config.get("SPARK_SHUFFLE_PARTITIONS") or 8),
            staging_dir=config.get("SPARK_STAGING_DIR") or None,
        )

    # ---------------------------------------------------------------- session

    def __enter__(self) -> SparkALS:
        check_spark()
        self._tmp = tempfile.TemporaryDirectory(prefix="shop-spark-", dir=self.staging_dir)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the Spark session and its driver JVM, and remove the staged Parquet.

        ``SparkSession.stop`` alone leaves pyspark's gateway JVM running (with its heap) for the
        life of the Python process: a worker would keep it between retrains. Closing the pipe the
        gateway watches ends it.
        """
        if self._spark is not None:
            self._spark.stop()
            self._spark = None
            _end_gateway()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def workdir(self) -> Path:
        if self._tmp is None:
            raise RuntimeError("use SparkALS as a context manager: `with SparkALS(...) as fitter:`")
        return Path(self._tmp.name)

    def session(self) -> Any:
        """The running SparkSession, started on first use."""
        if self._spark is None:
            self._spark = self._start()
        return self._spark

    def driver_pid(self) -> int | None:
        """The local driver JVM's process id (for memory figures), if it runs on this host."""
        gateway = getattr(self._spark.sparkContext, "_gateway", None) if self._spark else None
        proc = getattr(gateway, "proc", None)
        return proc.pid if proc is not None else None

    def _start(self) -> Any:
        with _quiet_imports():
            from pyspark.sql import SparkSession

        config = self.workdir / "log4j2.properties"
        config.write_text(_LOG4J)
        java_options = f"-Dlog4j2.configurationFile=file:{config}"
        builder = (
            SparkSession.builder.master(self.master)
            .appName("shop-als")
            .config("spark.driver.memory", self.driver_memory)
            .config("spark.driver.extraJavaOptions", java_options)
            .config("spark.executor.extraJavaOptions", java_options)
            .config("spark.sql.shuffle.partitions", str(self.shuffle_partitions))
            .config("spark.default.parallelism", str(self.shuffle_partitions))
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.local.dir", str(self.workdir))
            .config("spark.sql.execution.arrow.pyspark.enabled", "false")
        )
        for key, value in self.extra_conf.items():
            builder = builder.config(key, value)
        with _quiet_imports():
            spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        spark.sparkContext.setCheckpointDir(str(self.workdir / "checkpoints"))
        return spark

    # ---------------------------------------------------------------- fitting

    def __call__(self, events: ALSEvents, model: ALSModel) -> np.ndarray:
        """Stage the events as Parquet and fit on Spark (``ItemFactorFitter``)."""
        self.fits += 1
        path = self.workdir / f"events-{self.fits}.parquet"
        write_events(path, events.users, events.items, events.weights, events.days)
        try:
            return self.fit_parquet(str(path), events.n_items, model, events.half_life_days)
        finally:
            path.unlink(missing_ok=True)

    def strengths(self, path: str, half_life_days: float | None = None) -> Any:
        """A Spark DataFrame (user, item, strength): the local ``strength_matrix``, computed on Spark.

        Each event's weight is decayed by its age when ``half_life_days`` is set (counted back from
        the newest event; unknown days weigh 1), summed per (user, item) and damped with log1p;
        cells that end at zero are dropped, as the sparse matrix drops them.
        """
        with _quiet_imports():
            from pyspark.sql import functions as F

        events = self.session().read.parquet(path)
        weight = F.col("weight")
        if half_life_days and half_life_days > 0:
            newest = events.where(~F.isnan("day")).agg(F.max("day")).first()[0]
            if newest is not None:
                age = F.greatest(F.lit(newest) - F.col("day"), F.lit(0.0))
                factor = F.pow(F.lit(0.5), age / F.lit(float(half_life_days)))
                weight = weight * F.when(F.isnan("day"), F.lit(1.0)).otherwise(factor)
        return (
            events.groupBy("user", "item")
            .agg(F.sum(weight).alias("total"))
            .select("user", "item", F.log1p("total").alias("strength"))
            .where(F.col("strength") > 0)
        )

    def fit_parquet(
        self, path: str, n_items: int, model: ALSModel, half_life_days: float | None = None
    ) -> np.ndarray:
        """Item factors ``(n_items, model.factors)`` fitted on Spark from events in Parquet.

        ``path`` is anything ``spark.read.parquet`` reads (a file, a folder of parts).
        """
        with _quiet_imports():
            from pyspark.ml.recommendation import ALS

        strength = self.strengths(path, half_life_days)
        als = ALS(
            rank=model.factors,
            maxIter=model.iterations,
            regParam=model.regularization,
            alpha=model.alpha,
            implicitPrefs=True,
            userCol="user",
            itemCol="item",
            ratingCol="strength",
            numUserBlocks=self.shuffle_partitions,
            numItemBlocks=self.shuffle_partitions,
            checkpointInterval=10,
            coldStartStrategy="drop",
        )
        if model.random_state is not None:
            als = als.setSeed(int(model.random_state))
        fitted = als.fit(strength)
        factors = np.zeros((n_items, model.factors))  # untouched products: zero, as locally
        for row in fitted.itemFactors.toLocalIterator():
            if 0 <= row["id"] < n_items:
                factors[row["id"]] = row["features"]
        return factors


def _end_gateway() -> None:
    """End pyspark's gateway JVM so the next session starts a fresh one."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    if gateway is None:
        return
    proc = getattr(gateway, "proc", None)
    gateway.shutdown()
    SparkContext._gateway = None
    SparkContext._jvm = None
    if proc is not None:
        proc.stdin.close()  # the gateway exits when its stdin closes
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def spark_fitter(config: Mapping[str, Any]) -> Iterator[SparkALS]:
    """``with spark_fitter(app.config) as fitter:`` the session stops with the block."""
    with SparkALS.from_config(config) as fitter:
        yield fitter
