"""
An access log line that says what push did for each response.
"""

from __future__ import annotations

from twisted.web.http import combinedLogFormatter
from twisted.web.iweb import IRequest

from txpush._twisted.requests import isPushedRequest
from txpush.resource import pagePlanOf


def pushLogFormatter(timestamp: str, request: IRequest) -> str:
    """
    Format a request in the Combined Log Format, followed by what push did:

      - C{push=pushed} for a pushed response;
      - C{push=page pushed=N cached=N hinted=N} for a page that had assets:
        how many were pushed, skipped because the client's digest says it has
        them, and announced in Early Hints or preload headers;
      - C{push=-} otherwise.

    An L{IAccessLogFormatter<twisted.web.iweb.IAccessLogFormatter>} for
    L{twisted.web.http.HTTPFactory}'s C{logFormatter}.

    @param timestamp: The time, formatted by Twisted.
    @param request: The request, just finished.
    @return: The line, without its newline.
    """
    line = combinedLogFormatter(timestamp, request)
    if isPushedRequest(request):
        return f"{line} push=pushed"
    plan = pagePlanOf(request)
    if plan is None or not (plan.push or plan.hint or plan.skippedCached):
        return f"{line} push=-"
    return (
        f"{line} push=page pushed={len(plan.push)} "
        f"cached={len(plan.skippedCached)} hinted={len(plan.hint)}"
    )
