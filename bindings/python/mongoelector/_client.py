"""The `db` argument: a pymongo Database (as in the seed) or a (uri, db_name)
pair. A pymongo client is turned into a MongoDB URI (hosts, credentials, TLS
and the other options the native driver understands); one native client
(connection pool) is shared per distinct URI for the life of the process."""

from __future__ import annotations

from typing import Any

import ctypes
import logging
import sys
import threading
from urllib.parse import quote

from . import _ffi
from ._util import c_text
from .errors import call

log = logging.getLogger("mongoelector")

__all__ = ["resolve_db", "uri_from_pymongo", "Client"]


class Client:
    """A native me_client, shared per URI (never freed: one pool per deployment per process)."""

    def __init__(self, uri: str):
        out = ctypes.c_void_p()
        call(_ffi.lib.me_client_new, c_text("uri", uri), ctypes.byref(out))
        self.ptr = out.value
        self.uri = uri


_clients: dict[str, Client] = {}
_clients_lock = threading.Lock()


def client_for(uri: str) -> Client:
    with _clients_lock:
        c = _clients.get(uri)
        if c is None:
            c = _clients[uri] = Client(uri)
        return c


def _pymongo_database_type() -> Any:
    # A pymongo Database exists only if pymongo was imported: no import here.
    mod = sys.modules.get("pymongo.synchronous.database") or sys.modules.get("pymongo.database")
    return getattr(mod, "Database", None) if mod else None


def resolve_db(db: Any) -> tuple[str, str]:
    """(uri, db_name) for the `db` argument; TypeError for anything else."""
    if isinstance(db, tuple) and len(db) == 2 and all(isinstance(x, str) for x in db):
        return db[0], db[1]
    dbtype = _pymongo_database_type()
    if dbtype is not None and isinstance(db, dbtype):
        return uri_from_pymongo(db.client), db.name
    raise TypeError(
        "Must pass a pymongo Database instance (e.g. MongoClient().my_database), "
        f"or a (uri, db_name) tuple, not {type(db).__name__}"
    )


# Options copied from pymongo's validated options into the URI, by lowercase
# name: (URI name, kind). "s" values are stored by pymongo in seconds and go
# to the URI in milliseconds; "ms" values are stored in milliseconds.
_OPTIONS = {
    "appname": ("appName", "str"),
    "connecttimeoutms": ("connectTimeoutMS", "s"),
    "directconnection": ("directConnection", "bool"),
    "heartbeatfrequencyms": ("heartbeatFrequencyMS", "s"),
    "journal": ("journal", "bool"),
    "loadbalanced": ("loadBalanced", "bool"),
    "localthresholdms": ("localThresholdMS", "ms"),
    "maxidletimems": ("maxIdleTimeMS", "s"),
    "maxstalenessseconds": ("maxStalenessSeconds", "int"),
    "maxpoolsize": ("maxPoolSize", "int"),
    "minpoolsize": ("minPoolSize", "int"),
    "maxconnecting": ("maxConnecting", "int"),
    "readconcernlevel": ("readConcernLevel", "str"),
    "readpreference": ("readPreference", "str"),
    "readpreferencetags": ("readPreferenceTags", "tags"),
    "replicaset": ("replicaSet", "str"),
    "retrywrites": ("retryWrites", "bool"),
    "retryreads": ("retryReads", "bool"),
    "servermonitoringmode": ("serverMonitoringMode", "str"),
    "serverselectiontimeoutms": ("serverSelectionTimeoutMS", "s"),
    "sockettimeoutms": ("socketTimeoutMS", "s"),
    "srvmaxhosts": ("srvMaxHosts", "int"),
    "srvservicename": ("srvServiceName", "str"),
    "tls": ("tls", "bool"),
    "ssl": ("tls", "bool"),
    "tlsinsecure": ("tlsInsecure", "bool"),
    "tlsallowinvalidcertificates": ("tlsAllowInvalidCertificates", "bool"),
    "tlscafile": ("tlsCAFile", "str"),
    "tlscertificatekeyfile": ("tlsCertificateKeyFile", "str"),
    "tlscertificatekeyfilepassword": ("tlsCertificateKeyFilePassword", "str"),
    "w": ("w", "w"),
    "wtimeoutms": ("wTimeoutMS", "ms"),
    "waitqueuetimeoutms": ("waitQueueTimeoutMS", "s"),
}
# Implied by tlsInsecure in pymongo; the native driver rejects them next to it.
_IMPLIED_BY_INSECURE = {"tlsallowinvalidcertificates", "tlsallowinvalidhostnames", "tlsdisableocspendpointcheck"}
# pymongo-only settings with no meaning for the lock (or no URI form).
_IGNORED = {
    "document_class", "tz_aware", "connect", "type_registry", "uuidrepresentation", "unicode_decode_error_handler",
    "tzinfo", "datetime_conversion", "compressors", "zlibcompressionlevel", "tlsdisableocspendpointcheck",
    "tlscrlfile", "authmechanism", "authsource", "authmechanismproperties", "username", "password",
    "timeoutms", "event_listeners", "server_api", "driver", "auto_encryption_opts", "pool_class",
    "monitor_class", "condition_class", "srvmaxhosts_", "waitqueuemultiple",
}


def _q(s: str) -> str:
    return quote(str(s), safe="")


def _value(kind: str, v: Any) -> str | None:
    if v is None:
        return None
    if kind == "bool":
        return "true" if v else "false"
    if kind == "s":
        return str(int(round(float(v) * 1000)))
    if kind == "ms":
        return str(int(round(float(v))))
    if kind == "int":
        return str(int(v))
    if kind == "w":
        return str(v)
    return _q(v)


def _host(host: str, port: Any) -> str:
    if host.endswith(".sock"):
        return _q(host)
    h = f"[{host}]" if ":" in host else host
    return f"{h}:{port}" if port else h


def uri_from_pymongo(client: Any) -> str:
    """A MongoDB URI equivalent to a pymongo MongoClient's settings.

    Reads pymongo's parsed settings (seeds, credentials, validated options).
    Settings with no URI form (OIDC callbacks, CRL files, compression) are
    left out with a warning when they matter."""
    srv = getattr(client, "_resolve_srv_info", None) or {}
    opts = dict(client.options._options)
    lower = {k.lower(): v for k, v in opts.items()}
    if srv.get("is_srv") and srv.get("fqdn"):
        scheme, hosts = "mongodb+srv", srv["fqdn"]
    else:
        seeds = sorted(client._topology_settings.seeds, key=lambda hp: (str(hp[0]), hp[1] or 0))
        scheme, hosts = "mongodb", ",".join(_host(h, p) for h, p in seeds)

    userinfo = ""
    params: list[tuple[str, str]] = []
    cred = client.options.pool_options._credentials
    if cred is not None:
        if cred.username is not None:
            userinfo = _q(cred.username)
            if cred.password is not None:
                userinfo += ":" + _q(cred.password)
            userinfo += "@"
        if cred.mechanism and cred.mechanism != "DEFAULT":
            params.append(("authMechanism", cred.mechanism))
        if cred.source:
            params.append(("authSource", _q(cred.source)))
        props = lower.get("authmechanismproperties")
        if props:
            parts = []
            for k, v in props.items():
                if isinstance(v, bool):
                    v = "true" if v else "false"
                if isinstance(v, (str, int)):
                    parts.append(f"{k}:{v}")
                else:
                    log.warning("mongoelector: auth mechanism property %s has no URI form; left out", k)
            if parts:
                params.append(("authMechanismProperties", _q(",".join(parts))))

    insecure = "tlsinsecure" in lower
    for key, value in lower.items():
        if insecure and key in _IMPLIED_BY_INSECURE:
            continue
        spec = _OPTIONS.get(key)
        if spec is None:
            if key not in _IGNORED and value is not None:
                log.debug("mongoelector: pymongo option %s is not passed to the native driver", key)
            elif key in ("tlscrlfile", "tlsallowinvalidhostnames") and value:
                # The native driver (rustls) has neither: hostnames stay verified.
                log.warning("mongoelector: %s is not supported by the native driver; left out", key)
            continue
        name, kind = spec
        if kind == "tags":
            for tagset in value or []:
                params.append((name, _q(",".join(f"{k}:{v}" for k, v in tagset.items()))))
            continue
        text = _value(kind, value)
        if text is not None and all(k != name for k, _ in params):
            params.append((name, text))
    query = "&".join(f"{k}={v}" for k, v in params)
    return f"{scheme}://{userinfo}{hosts}/" + (f"?{query}" if query else "")
