"""A page whose work needs Redis while Redis cannot be reached (a restart, a failover) answers a
503 with a Chinese message and Retry-After, never a 500: the sign-in's throttles and failure
counts, the other throttles (django-ratelimit), the playlist cache. Nothing is done by such a
request (the throttle could not be counted, so the guarded action is refused: failing closed).
Sessions do not need Redis (decision 0018), so every other page keeps working.

Only exceptions raised by views reach `process_exception`; that covers the throttles (decorators
on views) and the caches the views read."""

import logging

from django.http import JsonResponse
from django.shortcuts import render

from cpe.core import redis_wire

log = logging.getLogger(__name__)
MESSAGE = "服务暂时繁忙，本次操作未执行，请稍后再试。"


class RedisUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, redis_wire.UNAVAILABLE):
            return None
        log.warning("redis unavailable for %s %s: %r", request.method, request.path, exception)
        if request.path.startswith("/api/"):
            response = JsonResponse({"code": "unavailable", "message": MESSAGE}, status=503)
        elif getattr(request, "htmx", False):
            response = render(
                request, "partials/message.html", {"level": "error", "text": MESSAGE}, status=503
            )
        else:
            response = render(request, "errors/503.html", status=503)  # MESSAGE, as a heading and a line
        response["Retry-After"] = str(redis_wire.RETRY_AFTER_SECONDS)
        return response
