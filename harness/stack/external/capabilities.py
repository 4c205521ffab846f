"""The external substrate's capabilities: one mixin per section of the topology file, composed
into the stack's class by :func:`make_external_stack`, so the faults' ordinary
``isinstance(stack, Proxied)`` checks decide what runs."""

from __future__ import annotations

from collections.abc import Mapping

from harness.errors import ConfigError
from harness.stack.external.model import TopologyFile
from harness.stack.external.stack import ExternalStack
from harness.timeline import Timeline

__all__ = ["make_external_stack"]


class _ToxiproxyMixin:
    spec: TopologyFile

    @property
    def toxiproxy_url(self) -> str:
        assert self.spec.toxiproxy is not None
        return self.spec.toxiproxy.api

    #: heal_all must not POST /reset: that would remove toxics the deployment's owners set
    owns_toxiproxy = False

    def proxies(self) -> Mapping[str, str]:
        assert self.spec.toxiproxy is not None
        return dict(self.spec.toxiproxy.proxies)


class _ProvidersMixin:
    spec: TopologyFile
    _secrets: dict[str, str]

    def provider_control(self, provider: str) -> tuple[str, str]:
        name = provider.removeprefix("provider-")
        for p in self.spec.providers:
            if p.name == name:
                return p.control_url, self._secrets[p.token_env]
        raise ConfigError("the topology file describes no such provider", field="providers",
                          value=provider, allowed=[p.name for p in self.spec.providers])


class _QdrantMixin:
    spec: TopologyFile

    @property
    def qdrant_collection(self) -> str:
        assert self.spec.qdrant is not None
        return self.spec.qdrant.collection

    def qdrant_url(self, service: str) -> str:
        assert self.spec.qdrant is not None
        for n in self.spec.qdrant.nodes:
            if n.name == service:
                return n.url
        raise ConfigError("no such Qdrant node in the topology file", field="qdrant.nodes",
                          value=service, allowed=[n.name for n in self.spec.qdrant.nodes])


class _HAProxyMixin:
    spec: TopologyFile

    @property
    def haproxy_socket(self) -> str:
        assert self.spec.haproxy is not None
        return self.spec.haproxy.runtime_api

    @property
    def haproxy_backend(self) -> str:
        assert self.spec.haproxy is not None
        return self.spec.haproxy.backend

    def haproxy_server(self, service: str) -> str:
        """The HAProxy server name of an app replica (the file's ``haproxy_server``)."""
        for a in self.spec.apps:
            if a.name == service:
                return a.haproxy_server or a.name
        return service


class _RedisAdminMixin:
    redis_admin = True


def make_external_stack(spec: TopologyFile, *, file: str | None, secrets: Mapping[str, str],
                        timeline: Timeline | None = None,
                        confirmed: bool = False) -> ExternalStack:
    """An :class:`ExternalStack` with exactly the capabilities the file describes."""
    mixins: list[type] = []
    if spec.toxiproxy is not None:
        mixins.append(_ToxiproxyMixin)
    if spec.providers:
        mixins.append(_ProvidersMixin)
    if spec.qdrant is not None:
        mixins.append(_QdrantMixin)
    if spec.haproxy is not None:
        mixins.append(_HAProxyMixin)
    if spec.redis is not None and spec.redis.admin:
        mixins.append(_RedisAdminMixin)
    cls = type("ExternalStack", (*mixins, ExternalStack), {"__module__": __name__})
    stack: ExternalStack = cls(spec=spec, file=file, secrets=secrets, timeline=timeline,
                               confirmed=confirmed)
    return stack
