"""The application's background work: the due-work scheduler, the outbox worker with the
configured SMS gateway, and delivery receipts. Started and stopped by a cleanup context."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator

from aiohttp import web

from ..db import DatabaseUnavailable
from ..context import SERVICES
from ..outbox import OutboxWorker
from ..smpp import gateway_from_setting
from .scheduler import Scheduler, run_forever

log = logging.getLogger("loanctl.postloan")


async def _poll_receipts(gateway, interval: float) -> None:
    while True:
        try:
            await gateway.poll_receipts()
        except asyncio.CancelledError:
            raise
        except DatabaseUnavailable:
            pass  # the database logs an outage once; the next round tries again
        except Exception:
            log.exception("reading delivery receipts failed; will retry")
        await asyncio.sleep(interval)


async def _fold_history(db, definition, interval: float) -> None:
    from ..insight import spans

    while True:
        try:
            await spans.refresh_all(db, definition)
        except asyncio.CancelledError:
            raise
        except DatabaseUnavailable:
            pass  # the database logs an outage once; the next round tries again
        except Exception:
            log.exception("folding history into the dashboard tables failed; will retry")
        await asyncio.sleep(interval)


async def _warn_deadlines(svc, interval: float) -> None:
    """Staff are told before a stage runs late (core.deadlines)."""
    from ..deadlines import queue_warnings

    while True:
        try:
            async with svc.db.unit_of_work() as session:
                await queue_warnings(session, svc.workflow)
        except asyncio.CancelledError:
            raise
        except DatabaseUnavailable:
            pass  # the database logs an outage once; the next round tries again
        except Exception:
            log.exception("queueing deadline warnings failed; will retry")
        await asyncio.sleep(interval)


def background_context(config):
    """Cleanup context for `create_root`: runs after the services context has opened the database.

    `config.scheduler_interval` (0 turns the background work off) and `config.sms_gateway`
    (`log` or `smpp://…`) steer it.
    """
    async def context(app: web.Application) -> AsyncIterator[None]:
        interval = config.scheduler_interval
        if interval <= 0:
            yield
            return
        svc = app[SERVICES]
        gateway = gateway_from_setting(config.sms_gateway, svc.db)
        worker = OutboxWorker(svc.db, gateway)
        tasks = [asyncio.create_task(run_forever(Scheduler(svc.db), interval), name="postloan-scheduler"),
                 asyncio.create_task(worker.run(config.outbox_interval), name="outbox-worker"),
                 asyncio.create_task(_warn_deadlines(svc, interval), name="deadline-warnings")]
        tasks.append(asyncio.create_task(_fold_history(svc.db, svc.workflow.current, interval), name="insight-history"))
        if hasattr(gateway, "poll_receipts"):
            tasks.append(asyncio.create_task(_poll_receipts(gateway, 5.0), name="sms-receipts"))
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if hasattr(gateway, "close"):
            await gateway.close()
    return context
