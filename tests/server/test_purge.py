"""`manage purge-expired` (daily, from cron): what no longer matters goes; nothing else does."""
import datetime as dt

import pytest


@pytest.mark.commits  # the command builds its own app (its own engine): it must see what is committed
def test_purge_forgets_expired_revocations_quiet_sign_in_counts_and_old_refusal_counts(
        clean_app, world, session, capsys, monkeypatch):
    from sqlalchemy import func, select

    from server import manage
    from server.audit.models import AuditEvent, DeniedAttempt
    from server.auth.models import LoginThrottle, RevokedToken

    now = dt.datetime.now(dt.timezone.utc)
    gp = world.users["gp-a1"]
    session.add_all([
        RevokedToken(jti="gone", user_id=gp, token_type="access", expires_at=now - dt.timedelta(minutes=1)),
        RevokedToken(jti="live", user_id=gp, token_type="refresh", expires_at=now + dt.timedelta(days=1)),
        LoginThrottle(key="account:old", failures=3, last_at=now - dt.timedelta(days=2), version=1),
        LoginThrottle(key="account:recent", failures=6, last_at=now - dt.timedelta(minutes=5), version=1,
                      not_before=now + dt.timedelta(minutes=1)),
        *(DeniedAttempt(minute=(now - dt.timedelta(days=days)).replace(second=0, microsecond=0),
                        address="10.0.0.9", username="-", endpoint="auth.login", status=401, count=7,
                        last_at=now - dt.timedelta(days=days)) for days in (40, 29)),
    ])
    session.commit()
    audit_rows = session.scalar(select(func.count()).select_from(AuditEvent))
    monkeypatch.setenv("DATABASE_URL", clean_app.config["SQLALCHEMY_DATABASE_URI"])
    manage.main(["purge-expired", "--denied-days", "30"])
    assert capsys.readouterr().out.strip() == ("purged 2 expired token revocations and sign-in counts, and 1 "
                                               "counts of refused requests older than 30 days")
    session.expire_all()
    assert session.scalars(select(RevokedToken.jti)).all() == ["live"]
    assert session.scalars(select(LoginThrottle.key)).all() == ["account:recent"]  # waiting out its delay
    kept = [d.last_at.date() for d in session.scalars(select(DeniedAttempt))]
    assert kept == [(now - dt.timedelta(days=29)).date()]
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == audit_rows  # the access log stays


def test_purge_refuses_a_retention_under_a_day(capsys):
    from server import manage

    with pytest.raises(SystemExit) as stop:
        manage.main(["purge-expired", "--denied-days", "0"])
    assert "--denied-days must be 1 or more" in str(stop.value)


@pytest.mark.commits
def test_a_sign_in_count_still_holding_someone_back_is_kept(clean_app, session, capsys, monkeypatch):
    """With a longest delay of three days, a count quiet for two whose delay runs another day stays:
    purging it would hand the free attempts back at once."""
    from sqlalchemy import select

    from server import manage
    from server.auth.models import LoginThrottle

    now = dt.datetime.now(dt.timezone.utc)
    session.add_all([
        LoginThrottle(key="account:held", failures=40, last_at=now - dt.timedelta(days=2), version=1,
                      not_before=now + dt.timedelta(days=1)),
        LoginThrottle(key="account:done", failures=2, last_at=now - dt.timedelta(days=4), version=1),
    ])
    session.commit()
    monkeypatch.setenv("DATABASE_URL", clean_app.config["SQLALCHEMY_DATABASE_URI"])
    monkeypatch.setenv("LOGIN_MAX_DELAY_MINUTES", str(3 * 24 * 60))
    manage.main(["purge-expired"])
    session.expire_all()
    assert session.scalars(select(LoginThrottle.key)).all() == ["account:held"]
