"""Every default limit and timeout in one place, each with its reason.

Values that httpd or mod_websocket define keep their numbers, so a config that
does not mention them behaves as it did under Apache.
"""

# httpd core defaults (LimitRequestLine, LimitRequestFields, LimitRequestFieldSize).
LIMIT_REQUEST_LINE = 8190
LIMIT_REQUEST_FIELDS = 100
LIMIT_REQUEST_FIELD_SIZE = 8190

# mod_websocket's MaxMessageSize default: 32 MiB. A message (or a draft-76 frame,
# even one that is only discarded) longer than this closes the connection.
MAX_MESSAGE_SIZE = 33_554_432

# mod_reqtimeout's default for the request head: "header=20-40,MinRate=500":
# 20 s to start, extended by 1 s per 500 bytes received, never past 40 s.
# It bounds the handshake only (draft-76's 8 key bytes included), never an open
# WebSocket: mod_reqtimeout killing live sockets was a known mod_websocket bite.
HEADER_TIMEOUT = 20.0
HEADER_TIMEOUT_MAX = 40.0
HEADER_MIN_RATE = 500

# How long a closing handshake may take before the socket is closed anyway
# (mod_websocket waited forever for the peer's answer).
CLOSE_TIMEOUT = 5.0

# WebSocketPing's wait for any answer to a ping when the directive gives none (geows
# never pings unless told to: an open WebSocket has no idle timeout). A pong needs only a
# round trip, but one delayed by a few lost packets (TCP's retransmission timeout starts
# near 1 s and doubles: 1+2+4+8 s) or queued behind a send buffer of messages to a slow
# client must not fail a live connection; the `websockets` library waits 20 s as well.
# Independent of the interval: an hour of silence before a ping says nothing about how
# long its answer may take.
PING_TIMEOUT = 20.0

# On draft-76 (no ping frames), WebSocketPing turns on TCP keepalive instead: the kernel
# probes after the interval, and ends the connection when this many probes in a row,
# spaced to span the timeout (fewer if it is too short for whole seconds between them),
# go unanswered; more than one, so that a single lost probe does not end a live one.
KEEPALIVE_PROBES = 3

# How long a stop waits for connections to finish their closing handshakes, unless
# GracefulShutdownTimeout says otherwise.
SHUTDOWN_TIMEOUT = 10.0

# Worker processes without StartServers: one, so that a plugin's state in memory is
# shared by all of a location's connections as it is in one process; StartServers N runs
# N (the cores, for a busy server). Capped as httpd's event MPM caps it (ServerLimit 16).
WORKERS = 1
MAX_WORKERS = 16

# How long a new worker may take to read the config, load its plugins and listen (at
# start and on reload) before the master gives up on it.
WORKER_START_TIMEOUT = 60.0

# A worker that dies this soon after it started (or could not start: a plugin whose init
# fails in the worker) is replaced only WORKER_RESTART_DELAY later, twice as late each
# time in a row, up to WORKER_RESTART_DELAY_MAX: a crash loop must not spin (it logged 66
# lines in 40 s at one a second), and a slot whose cause goes away (a file restored, a
# database back) serves again within half a minute. Its slot takes no connection meanwhile.
WORKER_YOUNG = 10.0
WORKER_RESTART_DELAY = 1.0
WORKER_RESTART_DELAY_MAX = 30.0

# What a stopping worker may take on top of the stop's own bound before the master kills
# it: its bounded waits for greenlets and plugin threads (CLOSE_TIMEOUT each), destroy().
WORKER_EXIT_MARGIN = 20.0

# Broadcast bytes the master may hold for a worker that takes none from its channel (its
# hub held by a plugin's CPU-bound call): two of MaxMessageSize's default, so that one
# broadcast of that size can wait while another is written. Past it, the master drops that
# worker's broadcasts (its clients miss them) and counts them, logged at most once per
# RELAY_DROP_LOG_INTERVAL: its memory stays under StartServers times this. A worker that
# has taken nothing for RELAY_STALL_TIMEOUT (httpd's Timeout, as for a client that takes
# nothing) while broadcasts are dropped for it is stuck for good, and is ended.
RELAY_BACKLOG = 67_108_864
RELAY_DROP_LOG_INTERVAL = 1.0
RELAY_STALL_TIMEOUT = 60.0

# Worker processes that may run at once, every generation's (the entries of the shared
# count of open connections, geows.process.shares: 8 bytes each): a reload that would need
# more is refused until earlier generations finish.
SHARED_COUNT_ENTRIES = 1024

# How long the master reads what a worker that exited had still sent it (its last status
# figures) before it closes their channel.
CHANNEL_DRAIN = 1.0

# How often a finishing worker (after a reload, or a graceful stop) looks whether its
# last connection has ended.
FINISH_POLL = 0.2

# Failures that can repeat as fast as lines are written or connections come (a log on a
# full disk, accept() out of descriptors) are said at most this often, each report with
# how many there were since: the operator learns of each outage and of its size, and the
# error log does not grow by a line per failure (nor fill the disk it may share).
LOG_FAILURE_REPORT = 1.0

# How often each worker reports its figures for the status page.
STATUS_INTERVAL = 1.0

# Strings of requests that many connections send alike (header names and values, the
# method, the path) are kept once per worker, so that thousands of idle connections, each
# keeping its request, share them (geows.strings): at most this many, each at most this
# long, since clients choose them.
SHARED_STRINGS = 4_096
SHARED_STRING_MAX = 256

# Bytes asked of the socket per recv(); large enough that a 1 MiB message
# takes few wake-ups, small enough to stay cheap per idle greenlet.
RECV_SIZE = 65_536

# How long a loop may work without a break while no other waits: gevent's recv() returns
# at once while bytes wait, so a greenlet whose client keeps it busy never blocks. While
# other connections wait for their turn it gives way after each piece of work (a parse of
# what one read brought, a relayed chunk); with none waiting, after this long, and every
# connection the next poll finds ready goes first (geows.runtime.fairness). A WebSocket's
# reader also waits on its socket before every read, which is a turn of its own
# (geows.runtime.session._recv). mod_websocket gave each
# connection a thread, and the kernel shared the CPU. 2 ms: another client's echo waits
# a few ms behind a flooding client, and a bulk transfer gives way once per 2 ms, which
# costs it one pass of the hub's loop (a 4 GiB download through ProxyPass lost nothing:
# see bench/RESULTS-fairness.md).
TURN = 0.002

# Frames one parse takes at most before the reading loop looks at the clock again, so
# that a read full of tiny frames (64 KiB holds 10,922 empty Pongs) is parsed in pieces
# short against TURN. Every frame counts, control frames and empty ones too: the dearest
# (Pongs, Pings and continuations, which the websockets engine parses; compressed 1-byte
# messages, inflated and echoed) cost 5 to 10 us each, so 32 of them stay under half a
# millisecond. A large frame counts once, so large messages are not slowed.
FRAMES_PER_PARSE = 32

# httpd's Timeout default, for the waits it bounds in httpd too: a send to a client that
# takes nothing (past it the client is closed; it bounded mod_websocket's writes),
# and a forwarded connection (ProxyPass) connecting to its backend, or with no bytes
# moving either way (mod_proxy and its WebSocket tunnel).
TIMEOUT = 60.0

# A forwarded (ProxyPass) backend's response head, which geows reads whole to find where
# each response ends and whether a 101 may open a tunnel: a line longer than mod_proxy_http's
# ResponseFieldSize default (HUGE_STRING_LEN) is a 502, as in httpd. httpd bounds the lines'
# number by memory only; geows caps the whole head, so that a backend cannot make it hold
# more (a legitimate head of 32 such lines still fits).
RESPONSE_FIELD_SIZE = 8192
RESPONSE_HEAD_SIZE = 262_144

# The largest body an RFC 6455 handshake may carry (a proxy forwards what a client sends;
# a WebSocket client sends none): read and dropped, so that the frames after it are read.
HANDSHAKE_BODY_LIMIT = 65_536

# Listen backlog, httpd's ListenBacklog default.
LISTEN_BACKLOG = 511

# permessage-deflate (RFC 7692) memory per connection: a 4 KiB LZ77 window each
# way (max_window_bits=12) and zlib memLevel 5 keep a compressing connection
# to tens of KB instead of zlib's default ~256 KB.
DEFLATE_WINDOW_BITS = 12
DEFLATE_MEM_LEVEL = 5

# A compressed frame is inflated this much at a time; after each step its message is
# checked against MaxMessageSize and (past the first step, which holds no more than a
# read: RECV_SIZE) WebSocketMessageMemory, so neither is passed by more than a step.
# Smaller steps cost more calls per byte: 64 KiB keeps a 30 MiB message to about 500 of
# them, and an ordinary message to one.
INFLATE_STEP = 65_536

# WebSocketMessageMemory's default: the bytes one worker's incomplete messages may hold
# together (their fragments, and what compressed frames inflated so far). Under
# mod_websocket, without compression, a client could make the server hold only what it
# sent; with permessage-deflate, 30 KiB inflate to 30 MiB. Twice MaxMessageSize's default:
# one message of that size can always complete, evicting idle ones (oldest first, 1013),
# and the worker's growth from messages in progress stays under 160 MiB (with the copies
# made to deliver one; bench/RESULTS-inflate.md) however many clients pin what they can.
MESSAGE_MEMORY = 67_108_864

# WebSocketWatchdog's default: a worker's event loop held this long (a plugin computing in
# pure Python, or blocking in C without gevent) is reported with the plugin call and its
# stack. Every other connection of the worker waits that long: a second is already an
# outage for a chat or a game, while nothing geows does itself (a parse is cut into turns
# of limits.TURN) comes near it, nor does a busy worker's loop turning under load.
WATCHDOG = 1.0

# Objects allocated (less those freed) before Python collects its youngest generation; its
# default is 700. A worker holding thousands of connections has thousands of objects alive
# between two messages of each (a frame waiting, a message being handled): at 700, young
# collections found them alive and promoted them, until a full collection scanned every
# connection's objects (a quarter second at 10,000) and held the loop. With this, and the
# objects of the worker's start frozen out of every collection (gc.freeze), 10,000
# saturated connections' p99 fell from 0.62-1.13 s to 0.45-0.50 s, at the same messages
# per second (bench/RESULTS-soak.md). Each 10,000 costs about 0.1 KB per idle connection
# at 5,000 held (what the young generation holds between collections). What waits for a
# collection waits longer: a connection that ends frees its objects at once
# (WebSocketProtocol.end breaks websockets' cycles), but a plugin's own reference cycles
# wait for up to this many objects, and what they hold with them (at 50,000, one holding
# each 64 KiB message grew a worker by 192 MB over 3,000 messages, where 700 grew it by
# 20 MB; not measured at 10,000).
GC_YOUNG_OBJECTS = 10_000

# Unsent output a connection may hold: bytes queued plus bytes the kernel has
# not taken yet. Past it, a broadcast closes that connection (1008) rather than
# buffer without bound for a client that stopped reading, and a send from an OS
# thread waits.
SEND_BUFFER = 1_048_576

# OS threads for plugin calls that block without yielding to gevent
# (geows.plugin.run_in_thread): as many as httpd's default MaxRequestWorkers
# (400) could have blocked in mod_websocket plugins at once. Idle ones exit.
PLUGIN_THREADS = 400
PLUGIN_THREAD_IDLE_TIMEOUT = 10.0

# A C plugin whose library imports nothing that can wait runs its callbacks on the event
# loop (geows.plugin.c_calls). One such call that computed this long (CPU time of the loop's
# thread, so that a call preempted on a busy machine does not count, less the time its
# callbacks spent in geows: a send, a broadcast) sends that plugin's later calls to
# threads: a C echo's call takes microseconds.
C_INLINE_HOLD = 0.1

# A room's name (WebSocketServer.join, broadcast(room=...)): at most this many bytes of
# UTF-8, not empty, no NUL (a C plugin could not name it). A name, not a message: room
# enough for a prefix and a few ids ("game:4211:team:blue"), and every broadcast to the
# room carries it, through the master's channel and Redis.
ROOM_NAME_MAX = 255

# How often an OS thread whose send is held back by a full buffer looks again.
THREAD_SEND_POLL = 0.005

# With no MaxRequestWorkers, the cap on open connections is the descriptor limit
# (RLIMIT_NOFILE, read at start) less these, kept for the listeners, logs, plugin files
# and the connections being refused: past the cap a client gets a 503, rather than the
# accept() failing. httpd's default (400) counts threads; a WebSocket server holds
# thousands of idle connections, each a socket and a greenlet, so descriptors are the bound.
MAX_CONNECTIONS_FD_RESERVE = 64

# WebSocketBroadcast (geows.cluster): broadcasts across hosts through Redis.
# Every key and channel geows uses in Redis starts with WebSocketBroadcastPrefix's value,
# so that several geows fleets (or other programs) can share one Redis.
BROADCAST_PREFIX = "geows"
# WebSocketBroadcastHistory's default: the messages per location Redis keeps (a Stream,
# trimmed approximately) to repair a gap from. 10,000 cover 20 s at 500 messages/s, past a
# Redis restart or a partition noticed within BROADCAST_PROBE_TIMEOUT.
BROADCAST_HISTORY = 10_000
# How long broadcast() waits for its own worker to deliver the message it published (the
# subscriber delivers in the location's order, so its result can count this worker's
# connections that took it); past it, the result counts 0 and delivery goes on.
BROADCAST_WAIT = 5.0
# A Redis command's (and connect's) bound: an answer later than this ends the link. Past
# a 2 s stall (a fork for a snapshot, a slow disk), short of a partition.
BROADCAST_SOCKET_TIMEOUT = 3.0
# The subscriber sends PING this often; an answer missing BROADCAST_PROBE_TIMEOUT after
# it ends the link, so that a silent partition is noticed within seconds (TCP keepalive,
# probing after as long, backs it up on the publishing connection).
BROADCAST_PROBE_INTERVAL = 1.0
BROADCAST_PROBE_TIMEOUT = 3.0
# Reconnecting: the first wait, doubled at each failure up to the last, each drawn between
# half and all of it (jitter: a fleet does not come back in step).
BROADCAST_RECONNECT = 0.1
BROADCAST_RECONNECT_MAX = 2.0
# History entries read per XRANGE while repairing a gap.
BROADCAST_FETCH = 1000
# A repair delivers what history held as a burst (15 MB after a worker stalled 15 s at
# 1 MB/s): before each of its messages the link lets the location's clients that hold more
# than half of SEND_BUFFER take some of it, waiting while each takes something within
# BROADCAST_REPAIR_PROGRESS, and BROADCAST_REPAIR_PACE at most per repair; a client that
# takes nothing is not waited for (it is closed, 1008, as for any broadcast).
BROADCAST_REPAIR_PROGRESS = 0.05
BROADCAST_REPAIR_PACE = 10.0
# A broadcast whose PUBLISH had an unknown outcome (the connection lost mid-call) is
# looked up in the history once Redis answers again, and published again if it is not
# there; one still unsettled this long after it was sent is delivered on this host only.
BROADCAST_SETTLE_LIMIT = 10.0
# broadcast(count_timeout=...): the count across hosts. A process's link is live while it
# registered itself in Redis within BROADCAST_LINK_LIVE (its probe does every
# BROADCAST_PROBE_INTERVAL); the sender waits for every live link's count, polling every
# BROADCAST_COUNT_POLL, count_timeout at most, which is at most BROADCAST_COUNT_MAX. The
# counts' key expires after BROADCAST_COUNT_MAX past the last count added to it.
BROADCAST_LINK_LIVE = 5.0
BROADCAST_COUNT_POLL = 0.01
BROADCAST_COUNT_MAX = 10.0
