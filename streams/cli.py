"""Commands of this package for the ``rvrota`` console script: ``kafka`` and ``worker``."""

from __future__ import annotations

import typer


def _kafka_app() -> typer.Typer:
    kafka = typer.Typer(help="The local single-node Apache Kafka broker (KRaft).")

    @kafka.command("start")
    def kafka_start(
        timeout: float = typer.Option(120.0, help="seconds to wait until the broker answers"),
    ) -> None:
        """Format storage if needed, start the broker and wait until it answers."""
        from core.settings import get_settings
        from streams import kafka_local

        config = kafka_local.BrokerConfig.from_settings(get_settings())
        try:
            st = kafka_local.start(config, timeout=timeout)
        except kafka_local.KafkaLocalError as exc:
            typer.echo(f"kafka: {exc}", err=True)
            raise typer.Exit(1) from exc
        typer.echo(f"kafka: running, pid {st.pid}, bootstrap {st.bootstrap}, home {config.home}")

    @kafka.command("stop")
    def kafka_stop(
        timeout: float = typer.Option(30.0, help="seconds to wait after SIGTERM before SIGKILL"),
    ) -> None:
        """Stop the broker cleanly (SIGTERM, then SIGKILL after the timeout)."""
        from core.settings import get_settings
        from streams import kafka_local

        config = kafka_local.BrokerConfig.from_settings(get_settings())
        if kafka_local.stop(config, timeout=timeout):
            typer.echo("kafka: stopped")
        else:
            typer.echo("kafka: not running")

    @kafka.command("status")
    def kafka_status() -> None:
        """Say whether the broker runs and answers; exit 1 when it does not answer."""
        from core.settings import get_settings
        from streams import kafka_local

        config = kafka_local.BrokerConfig.from_settings(get_settings())
        st = kafka_local.status(config)
        if st.answering:
            typer.echo(f"kafka: running, pid {st.pid}, bootstrap {st.bootstrap}")
            return
        if st.running:
            typer.echo(f"kafka: pid {st.pid} runs but does not answer on {st.bootstrap}")
        else:
            typer.echo("kafka: not running")
        raise typer.Exit(1)

    return kafka


def run_worker() -> None:
    """Run the stream processors until SIGTERM/SIGINT (Faust worker)."""
    import asyncio

    from streams.admin import ensure_topics
    from streams.app import create_app
    from streams.config import StreamsSettings, Topics
    from streams.logfilter import install_repeat_filter
    from streams.stopping import DeadlineWorker

    settings = StreamsSettings()
    topics = Topics.with_prefix(settings.topic_prefix)
    asyncio.run(
        ensure_topics(
            settings.kafka_bootstrap,
            topics.all(),
            settings.kafka_partitions,
            settings.kafka_replication,
        )
    )
    install_repeat_filter(settings.log_repeat_seconds)
    app = create_app(settings)
    worker = DeadlineWorker(
        app,
        loglevel=settings.log_level.lower(),
        override_logging=False,
        redirect_stdouts=False,
        stop_seconds=settings.stop_drain_seconds,
    )
    worker.execute_from_commandline()


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root app."""
    app.add_typer(_kafka_app(), name="kafka")

    @app.command("worker")
    def worker() -> None:
        """The stream processors: ingest, change detection, planning, publishing."""
        run_worker()
