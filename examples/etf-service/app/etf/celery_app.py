# celery: RabbitMQ is the broker (BROKER_URL), redis keeps the results (RESULT_BACKEND); beat
# schedules refresh_all every BEAT_INTERVAL seconds.
import os

from celery import Celery

app = Celery("etf", broker=os.environ["BROKER_URL"], backend=os.environ["RESULT_BACKEND"], include=["etf.tasks"])
app.conf.update(
    task_default_queue="etf",
    result_expires=3600,
    worker_prefetch_multiplier=1,
    broker_connection_timeout=4,
    beat_schedule={
        "refresh-all": {"task": "etf.tasks.refresh_all", "schedule": float(os.environ.get("BEAT_INTERVAL", "5"))},
    },
)
