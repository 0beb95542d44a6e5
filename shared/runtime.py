"""What every service process is made of, wired once: engine, migrations, topics, producer,
consumer runners, the outbox relay, the processed-events pruner, the HTTP server, and a graceful
stop on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, overload

import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.app import ApiSpec, create_app
from shared.consumer import BatchHandler, ConsumerRunner, Parsed, Parser
from shared.db import PlumbingTables, create_engine, make_sessionmaker, ping
from shared.events import Envelope, parse_event
from shared.kafka import Producer, ensure_topics, make_consumer, make_producer, topic_configs
from shared.logs import configure_logging
from shared.migrations import upgrade_to_head
from shared.outbox import OutboxRelay
from shared.passes import PassWiring
from shared.rejection import RejectionBreaker
from shared.retention import ProcessedEventsPruner
from shared.settings import OrchardSettings

log = logging.getLogger(__name__)

Job = Callable[[], Coroutine[object, object, None]]
"""A background loop of a service process (a scheduler, a pruner), run until the process stops."""


class Runtime:
    """The connections and plumbing of one service process. `runner_class` and `relay_class` are what
    its consumer runners and its relay are made of (a crash test swaps in subclasses that die at a
    chosen step)."""

    def __init__(
        self, settings: OrchardSettings, *, tables: PlumbingTables, versions_dir: Path,
        runner_class: type[ConsumerRunner[Any]] = ConsumerRunner, relay_class: type[OutboxRelay] = OutboxRelay,
    ) -> None:
        self.settings = settings
        self.runner_class = runner_class
        self.tables = tables
        self.versions_dir = versions_dir
        self.engine: AsyncEngine = create_engine(
            settings.database_dsn, pool_size=settings.db_pool_size, application_name=settings.service_name,
            ssl=settings.database_tls.connect_ssl(),
        )
        self.kafka_security = settings.kafka_security.client_options()
        self.sessions: async_sessionmaker[AsyncSession] = make_sessionmaker(self.engine)
        topics = settings.topics
        self.producer: Producer = make_producer(
            settings.kafka_bootstrap, client_id=f"orchard-{settings.service_name}", security=self.kafka_security,
            topics=[getattr(topics, name) for name in type(topics).model_fields],
        )
        self.relay = relay_class(
            service=settings.service_name,
            engine=self.engine,
            table=tables.outbox,
            bootstrap=settings.kafka_bootstrap,
            progress_topic=settings.topics.outbox_progress,
            kafka_security=self.kafka_security,
            batch_size=settings.outbox_batch_size,
            idle_poll_s=settings.outbox_idle_poll_s,
        )
        self.pruner = ProcessedEventsPruner(
            sessions=self.sessions,
            processed_events=tables.processed_events,
            retention=settings.processed_events_retention,
            interval_s=settings.prune_interval_s,
            batch_size=settings.prune_batch_size,
        )
        self.runners: list[ConsumerRunner[Any]] = []

    async def start(self) -> None:
        """Migrate the schema, create the topics, connect the producer."""
        if self.settings.run_migrations_on_start:
            await upgrade_to_head(self.engine, schema=self.tables.schema, versions_dir=self.versions_dir)
        topics = self.settings.topics
        await ensure_topics(
            self.settings.kafka_bootstrap,
            [getattr(topics, name) for name in type(topics).model_fields],
            partitions=self.settings.topic_partitions,
            replication=self.settings.topic_replication,
            configs=topic_configs(topics),
            security=self.kafka_security,
        )
        await self.producer.start()

    @overload
    def consumer_runner(
        self, *, topics: Sequence[str], handler: BatchHandler[Envelope], group: str | None = None
    ) -> ConsumerRunner[Envelope]: ...

    @overload
    def consumer_runner(
        self, *, topics: Sequence[str], handler: BatchHandler[Parsed], parser: Parser[Parsed], group: str | None = None
    ) -> ConsumerRunner[Parsed]: ...

    def consumer_runner(
        self, *, topics: Sequence[str], handler: BatchHandler[Any], parser: Parser[Any] = parse_event,
        group: str | None = None,
    ) -> ConsumerRunner[Any]:
        """A runner in the service's consumer group (``orchard-<service>``), or in ``orchard-<service>-<group>``
        for a second runner that reads other topics at its own pace (its rebalances, offsets and replay
        apart from the first's)."""
        settings = self.settings
        runner = self.runner_class(
            service=settings.service_name,
            consumer=make_consumer(
                settings.kafka_bootstrap,
                group_id=f"orchard-{settings.service_name}" + (f"-{group}" if group else ""),
                client_id=f"orchard-{settings.service_name}",
                max_records=settings.consumer_max_records,
                security=self.kafka_security,
                session_timeout_ms=settings.consumer_session_timeout_ms,
                heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms,
                max_poll_interval_ms=settings.consumer_max_poll_interval_ms,
                fetch_max_bytes=settings.consumer_fetch_max_bytes,
                max_partition_fetch_bytes=settings.consumer_max_partition_fetch_bytes,
            ),
            topics=topics,
            sessions=self.sessions,
            tables=self.tables,
            handler=handler,
            dlq_topic=settings.topics.dlq,
            parser=parser,
            max_records=settings.consumer_max_records,
            max_wait_ms=settings.consumer_max_wait_ms,
            retry_backoff_max_s=settings.consumer_retry_backoff_max_s,
            breaker=RejectionBreaker(
                max_share=settings.consumer_dlq_breaker_share, min_batch=settings.consumer_dlq_breaker_min_batch
            ),
            on_committed=self.relay.notify,
        )
        self.runners.append(runner)
        return runner

    def pass_wiring(
        self, runner: ConsumerRunner[Any], *, interval_s: float, chunk: int, grace_s: float, quiet_s: float
    ) -> PassWiring:
        """A scheduled pass beside `runner`: this process's database, the runner's progress (caught up,
        its groups quiet for `quiet_s` and its settled groups), and the relay woken after each chunk."""
        return PassWiring(
            engine=self.engine, sessions=self.sessions, interval_s=interval_s, chunk=chunk, grace_s=grace_s,
            caught_up=lambda: runner.caught_up, quiet_groups=lambda: runner.quiet_partitions(quiet_s),
            settled_groups=runner.settled_groups, on_committed=self.relay.notify,
        )

    def app(self, api: ApiSpec, *, context: object) -> FastAPI:
        """The service's HTTP app (``shared.app.create_app``): its keys, and readiness from this process."""
        return create_app(service=api.service, title=api.title, description=api.description,
                          api_keys=self.settings.api_keys, routers=api.routers, readiness=self.readiness_checks(),
                          context=context)

    def readiness_checks(self) -> dict[str, Callable[[], Awaitable[bool]]]:
        async def database() -> bool:
            return await ping(self.engine)

        async def kafka() -> bool:
            # A real metadata round trip: cached metadata would say "ready" with the broker gone.
            try:
                async with asyncio.timeout(3):
                    return await self.producer.broker_reachable()
            except Exception:
                return False

        async def consumers() -> bool:
            return all(runner.healthy for runner in self.runners)

        return {"database": database, "kafka": kafka, "consumers": consumers}

    async def close(self) -> None:
        await self.producer.stop()
        await self.engine.dispose()


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: ``serve`` decides when everything stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(
    runtime: Runtime,
    app: FastAPI,
    *,
    port: int,
    background: Sequence[Job] = (),
) -> None:
    """Run the HTTP API, the consumers, the relay, the pruner and any other background loops until
    SIGTERM/SIGINT.

    Stop order: stop taking HTTP requests and records; let each runner finish and commit its
    batch; let the relay drain the outbox; close the producer and the engine.
    """
    await runtime.start()
    server = _Server(
        uvicorn.Config(app, host=runtime.settings.http_host, port=port, log_config=None, lifespan="off")
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)

    tasks = [asyncio.create_task(server.serve(), name="http")]
    tasks += [asyncio.create_task(r.run(), name=f"consumer-{i}") for i, r in enumerate(runtime.runners)]
    relay_task = asyncio.create_task(runtime.relay.run(), name="outbox-relay")
    jobs = [runtime.pruner.run, *background]
    tasks += [asyncio.create_task(job(), name=f"background-{i}") for i, job in enumerate(jobs)]
    log.info("service started", extra={"port": port})

    watch = asyncio.create_task(stopping.wait())
    done, _ = await asyncio.wait([watch, *tasks, relay_task], return_when=asyncio.FIRST_COMPLETED)
    failed = [t for t in done if t is not watch and t.exception() is not None]
    for task in failed:
        log.error("task failed; stopping", extra={"task": task.get_name()}, exc_info=task.exception())
    log.info("stopping")
    server.should_exit = True
    for runner in runtime.runners:
        runner.stop()
    for task in tasks:
        if task.get_name().startswith("background"):
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    runtime.relay.stop()
    await asyncio.gather(relay_task, return_exceptions=True)
    watch.cancel()
    await runtime.close()
    log.info("stopped")
    if failed:
        raise SystemExit(1)


@dataclass(frozen=True)
class Service:
    """What every service process is, whatever else it holds: its runtime (consumer runners, relay,
    processed-events pruner), its HTTP app and port, and its own background loops (`background`)."""

    runtime: Runtime
    app: FastAPI
    port: int

    @property
    def background(self) -> Sequence[Job]:
        return ()


Settings = TypeVar("Settings", bound=OrchardSettings)


def run_main(load_settings: Callable[[], Settings], run: Callable[[Settings], Coroutine[object, object, None]]) -> None:
    """A service process's entry point: its settings (from the environment, read here and nowhere
    earlier), logging, then `run` until it returns (``serve`` returns on SIGTERM)."""
    settings = load_settings()
    configure_logging(service=settings.service_name, level=settings.log_level)
    asyncio.run(run(settings))


def service_main(load_settings: Callable[[], Settings], build: Callable[[Settings], Service]) -> None:
    """A service's ``__main__``: its settings, then the service `build` wires, served until SIGTERM."""

    async def run(settings: Settings) -> None:
        service = build(settings)
        await serve(service.runtime, service.app, port=service.port, background=service.background)

    run_main(load_settings, run)
