"""The send budget shared by every process of one bot, in Redis (`HALSARAM_REDIS_URL`).

Telegram's limits are per bot token, not per process: with several workers each holding its
own buckets, together they would send N times too fast. Here each bucket is a Redis hash
updated by one Lua script — refill by elapsed time, take a token if there is one — so the
check and the take are atomic across processes, and the time is Redis's own (`TIME`), so the
processes' clocks need not agree.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

# KEYS[1] bucket; ARGV: rate per second, capacity, tokens a new bucket starts with.
# Returns the seconds to wait: "0" when a token was taken.
_TAKE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then
  tokens = tonumber(ARGV[3])
  at = now
end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], 600)
return tostring(wait)
"""


class SharedBuckets:
    """Token buckets in Redis; `take` either takes a token (returns 0) or says how long to wait."""

    def __init__(self, url: str, prefix: str = "halsaram:budget:") -> None:
        self._redis: Redis = Redis.from_url(url)
        self._prefix = prefix
        self._script: Any = self._redis.register_script(_TAKE)

    async def take(self, key: str, rate: float, capacity: float, start: float) -> float:
        wait = await self._script(keys=[self._prefix + key], args=[rate, capacity, start])
        return float(wait)

    async def close(self) -> None:
        await self._redis.aclose()
