"""Who is asking, and may they: session lookup, role checks, CSRF, all on the server.

Route dependencies: ``Viewer``, ``Reviewer``, ``Admin`` give the signed-in user of at
least that role. Every state-changing route also takes ``CsrfChecked``, which compares
the session's token with the form field (or the ``X-CSRF-Token`` header htmx sends) in
constant time. A request without a session is sent to the sign-in page (a 401 for
htmx and non-HTML callers); a signed-in user without the role gets a 403 and nothing
changes, however the request was crafted. A role is checked as the scopes it maps to, by
the same :func:`libs.access.checks.require` the API's keys go through.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from dlq_dashboard.services import Services
from dlq_dashboard.sessions import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, Session, tokens_match
from dlq_dashboard.users import Role, User
from libs.access.checks import MissingScope, dashboard_principal, require
from schemas.principal import Scope


class NotSignedIn(Exception):
    """No valid session cookie."""


class Forbidden(Exception):
    """Signed in, but the role does not allow this, or the CSRF token is wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


def current_session(request: Request, svc: ServicesDep) -> Session:
    token = request.cookies.get(SESSION_COOKIE)
    session = svc.sessions.lookup(token) if token else None
    if session is None:
        raise NotSignedIn()
    request.state.session = session
    return session


SessionDep = Annotated[Session, Depends(current_session)]


# The scope each role-guarded route needs; a user holds the scopes of their role.
ROLE_SCOPE: dict[Role, Scope] = {
    Role.VIEWER: Scope.JOBS_READ, Role.REVIEWER: Scope.DLQ_ACT, Role.ADMIN: Scope.ADMIN,
}


def _role(needed: Role) -> object:
    def check(session: SessionDep) -> User:
        user = session.user
        try:
            require(dashboard_principal(user.name, user.role.value), ROLE_SCOPE[needed])
        except MissingScope:
            raise Forbidden(f"this needs the {needed} role; {user.name} is a "
                            f"{user.role}") from None
        return user

    return Depends(check)


Viewer = Annotated[User, _role(Role.VIEWER)]
Reviewer = Annotated[User, _role(Role.REVIEWER)]
Admin = Annotated[User, _role(Role.ADMIN)]


async def check_csrf(request: Request, session: SessionDep) -> None:
    offered = request.headers.get(CSRF_HEADER)
    if offered is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        offered = value if isinstance(value, str) else None
    if not tokens_match(offered, session.csrf_token):
        raise Forbidden("the form's security token is missing or stale; reload the page")


CsrfChecked = Annotated[None, Depends(check_csrf)]
