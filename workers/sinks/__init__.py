"""The ``sink.deliver`` job kind: ``tasks`` drives the sinks of :mod:`libs.sinks` on ``io``."""
