"""Implementations in other processes: the line-delimited JSON protocol (:mod:`.protocol`),
the proxy that starts and talks to a program speaking it (:mod:`.proxy`, for ``--exec``
and ``--isolate``), bnspec's own Python server of it (:mod:`.serve`, for ``--isolate``),
and the exact JSON encoding of arrays and values shared with the golden vectors and the
case files (:mod:`.codec`)."""
