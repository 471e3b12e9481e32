"""The demo's FastAPI app (scripts/run.sh --demo), run by uvicorn: a health route the
agent's health check can probe, and a log line now and then."""
import asyncio
import logging
import os

from fastapi import FastAPI

log = logging.getLogger("hello")
app = FastAPI()


@app.get("/health")
def health():
    return {"ok": True, "pid": os.getpid()}


@app.get("/")
def root():
    return {"hello": "from fastapi"}


@app.on_event("startup")
async def heartbeat():
    async def beat():
        while True:
            await asyncio.sleep(5)
            log.warning("heartbeat (demo)")
    asyncio.get_running_loop().create_task(beat())
