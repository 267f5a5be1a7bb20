"""The one place the bot asks what time it is (tests move it with time-machine)."""
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    """Timezone-aware UTC now."""
    return datetime.now(UTC)


def local_now() -> datetime:
    """Now in China Standard Time: what a worker means by 今天 / 明天."""
    return now().astimezone(LOCAL_TZ)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they were stored as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
