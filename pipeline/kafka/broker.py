"""A local single-node Apache Kafka (KRaft, broker+controller) run from Maven Central jars.

Used when KAFKA_BOOTSTRAP is unset: `chatlens kafka start|stop|status` and the tests. Jars are
fetched once with Maven into a cache outside git; storage is formatted once per run directory,
so a restart keeps the log (tests that kill and restart rely on that).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from schemas.limits import BROKER_MESSAGE_MAX_BYTES

KAFKA_VERSION = "3.9.2"
POM = Path(__file__).with_name("pom.xml")
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"


class BrokerError(RuntimeError):
    pass


def cache_root() -> Path:
    return Path(os.environ.get("CHATLENS_CACHE_DIR", Path.home() / ".cache" / "chatlens")).expanduser()


def fetch_jars(version: str = KAFKA_VERSION) -> Path:
    """Download the broker and its runtime dependencies once; later calls return the cached folder."""
    lib = cache_root() / f"kafka-{version}" / "lib"
    if (lib / ".complete").exists():
        return lib
    if shutil.which("mvn") is None:
        raise BrokerError("Maven (mvn) is needed to fetch the Kafka jars from Maven Central; install it")
    partial = lib.with_name("lib.partial")
    shutil.rmtree(partial, ignore_errors=True)
    cmd = ["mvn", "-B", "-q", "-f", str(POM), f"-Dkafka.version={version}",
           f"{DEPENDENCY_PLUGIN}:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={partial}"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise BrokerError(f"fetching Kafka {version} jars failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    (partial / ".complete").write_text(version)
    shutil.rmtree(lib, ignore_errors=True)
    partial.rename(lib)
    return lib


SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={log_dir}
# Topics are created deliberately (pipeline/kafka/admin.py): an auto-created topic gets the broker's
# partition count, which breaks Faust's co-partitioned tables (PartitionsMismatch).
auto.create.topics.enable=false
num.partitions={partitions}
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=3000
num.network.threads=2
num.io.threads=4
log.cleaner.dedupe.buffer.size=33554432
# The record size every chatlens limit is chosen to fit (schemas/limits.py); Kafka's default, made explicit.
message.max.bytes={message_max_bytes}
replica.fetch.max.bytes={message_max_bytes}
"""

LOG4J_PROPERTIES = """\
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
"""


@dataclass
class LocalBroker:
    run_dir: Path
    port: int = 19092
    partitions: int = 4
    heap: str = "768m"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "broker.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def _java(self, lib: Path, *args: str) -> list[str]:
        return ["java", f"-Dlog4j.configuration=file:{self.run_dir / 'log4j.properties'}",
                f"-Dkafka.logs.dir={self.run_dir / 'logs'}", "-cp", f"{lib}/*", *args]

    def _prepare(self, lib: Path) -> Path:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config = self.run_dir / "server.properties"
        config.write_text(SERVER_PROPERTIES.format(
            port=self.port, controller_port=self.port + 1, partitions=self.partitions,
            message_max_bytes=BROKER_MESSAGE_MAX_BYTES,
            log_dir=self.run_dir / "kraft-logs"))
        (self.run_dir / "log4j.properties").write_text(LOG4J_PROPERTIES)
        if not (self.run_dir / "kraft-logs" / "meta.properties").exists():
            cluster_id = subprocess.run(self._java(lib, "kafka.tools.StorageTool", "random-uuid"),
                                        capture_output=True, text=True, check=True).stdout.strip()
            fmt = subprocess.run(self._java(lib, "kafka.tools.StorageTool", "format", "-t", cluster_id,
                                            "-c", str(config)), capture_output=True, text=True)
            if fmt.returncode != 0:
                raise BrokerError(f"formatting Kafka storage failed: {fmt.stdout}{fmt.stderr}")
        return config

    def start(self, timeout: float = 90.0) -> None:
        if self.pid() is not None:
            self.wait_ready(timeout)
            return
        lib = fetch_jars()
        config = self._prepare(lib)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                self._java(lib, "-Xms256m", f"-Xmx{self.heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                           "kafka.Kafka", str(config)),
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid_file.write_text(str(proc.pid))
        try:
            self.wait_ready(timeout, proc)
        except BrokerError:
            self.stop()
            raise

    def wait_ready(self, timeout: float, proc: subprocess.Popen | None = None) -> None:
        """Ready means a metadata request is answered, not merely that the port is open."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise BrokerError(f"Kafka exited with {proc.returncode}; see {self.log_file}:\n"
                                  + self.log_file.read_text()[-3000:])
            if self.is_ready():
                return
            time.sleep(0.5)
        raise BrokerError(f"Kafka did not become ready on {self.bootstrap} within {timeout:.0f}s; see {self.log_file}")

    def is_ready(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        try:
            admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=3000,
                                     client_id="chatlens-probe")
        except (KafkaError, OSError, ValueError):  # not up yet
            return False
        try:
            admin.list_topics()
            return True
        except (KafkaError, OSError):
            return False
        finally:
            admin.close()

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM for a clean shutdown, SIGKILL if it does not finish in time."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True
