"""A private Dovecot IMAP server on loopback for the email tests.

Plaintext login on 127.0.0.1 only, one passwd-file user, maildirs under the test's tmp dir;
started on a free port and stopped by the fixture. Needs Debian's ``dovecot-imapd``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.polling import wait_for

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "support"
PASSWORD = "s3cret-pass"

CONFIG = """
base_dir = {root}/run
state_dir = {root}/state
instance_name = sluice-test-{port}
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
mail_uid = {uid}
mail_gid = {gid}
default_login_user = dovenull
default_internal_user = dovecot
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Dovecot:
    root: Path
    port: int
    config: Path

    host: str = "127.0.0.1"
    user: str = USER
    password: str = PASSWORD

    def stop(self) -> None:
        subprocess.run([DOVECOT, "-c", str(self.config), "stop"], check=False,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=20)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _mail_owner() -> tuple[int, int]:
    """Dovecot refuses to store mail as root: as root, mail belongs to the dovecot user."""
    import os
    import pwd

    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    entry = pwd.getpwnam("dovecot")
    return entry.pw_uid, entry.pw_gid


def start_dovecot(root: Path) -> Dovecot:
    import os

    root.mkdir(parents=True, exist_ok=True)
    for part in ("run", "state", "mail", "home"):
        (root / part).mkdir(exist_ok=True)
    # The login and auth processes run unprivileged and must reach run/ and the passwd file.
    root.chmod(0o711)
    port = free_port()
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::\n")
    config = root / "dovecot.conf"
    uid, gid = _mail_owner()
    for part in ("mail", "home"):
        os.chown(root / part, uid, gid)
    config.write_text(CONFIG.format(root=root, port=port, uid=uid, gid=gid))
    # Dovecot daemonizes; its master keeps inherited pipes open, so give it none.
    subprocess.run([DOVECOT, "-c", str(config)], check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    server = Dovecot(root, port, config)

    def accepts() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                return sock.recv(64).startswith(b"* OK")
        except OSError:
            return False

    try:
        wait_for(accepts, timeout=20, what=f"dovecot on port {port}")
    except AssertionError:
        server.stop()
        raise AssertionError(f"dovecot did not start:\n{server.log()}") from None
    return server


