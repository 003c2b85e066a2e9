"""The scenarios, by category (packetdrill gtests/net/tcp, gVisor packetimpact).

Every scenario is played against Linux and against aionetstack and must MATCH,
unless ``expected_difference`` names its entry in docs/CONFORMANCE.md (then
the difference must still be there: a fix makes the test fail until the entry
and the mark are removed).

Numbers: the remote host's sequence numbers are relative to its own ISN, its
acknowledgments relative to the SUT's ISN. ``HS`` is the passive-open
prologue (SYN with every option, SYN-ACK, ACK, accept) and ``AO`` the active
one (connect, SYN-ACK with every option); after either, both sides' next
sequence number is 1. The remote host advertises ``wscale 7``, so its
``win 1000`` means 128000 bytes.
"""

from __future__ import annotations

import dataclasses

from .script import Scenario

ALL = "<mss 1460,sackOK,TS,wscale 7>"
HS = f"""
listen
< S 0:0 win 65535 {ALL}
< . 1:1 ack 1 win 1000 <TS>
accept
"""
AO = f"""
connect
< S. 0:0 ack 1 win 65535 {ALL}
"""
# The same without timestamps (for the scenarios where TSval freshness is not the point)
HS_NOTS = """
listen
< S 0:0 win 65535 <mss 1460,sackOK,wscale 7>
< . 1:1 ack 1 win 1000
accept
"""

# docs/CONFORMANCE.md entries (issue 9's defect numbers)
STALE_CLOCK = "D1-stale-clock"
SYN_FIN = "D2-syn-fin-on-listener"
ABORT_TS = "D3-abort-rst-without-timestamp"
MINSHALL = "D4a-minshall-nagle"
SHRUNK = "D4b-shrunk-window-after-handshake"
DSACK_FIN = "D4c-dsack-for-duplicate-fin"
QUICKACK = "D4d-quickack-pingpong"
# differences found by this suite (docs/CONFORMANCE.md, "Found by the suite")
SYN_LINEAR = "N1-linear-syn-timeouts"
KEEPALIVE_RST = "N2-keepalive-timeout-without-rst"
SIMOPEN = "N3-simultaneous-open"
SYNSENT_BAD_ACK = "N4-syn-sent-bad-ack-fast-syn-retransmit"
ICMP_HARD = "N5-icmp-hard-error-in-syn-sent"
RST_WINDOW = "N6-rst-window-zero"
RST_FORM = "N7-rst-for-data-after-close"
HALF_WINDOW = "N8-segments-bounded-by-half-window"
ACCEPT_QUEUE = "N9-accept-queue-holds-backlog-plus-one"
TW_ACK = "N10-time-wait-acks-data"
OOO_FIN = "N11-out-of-order-fin-dropped"
PRR = "N12-recovery-sending-without-prr"
PERSIST = "N13-persist-timer-from-rto"
SYNACK_DATA = "N14-data-on-synack-off-by-one"
# justified differences (deliberate choices)
BATCH = "J1-ack-batching"
URGENT = "J2-urgent-data-inline"
RFC1337 = "J3-rfc1337-time-wait-rst"


def _passive(name: str, syn_opts: str, ack_opts: str = "", **kw: object) -> Scenario:
    return Scenario(
        name,
        f"""
listen
< S 0:0 win 65535 {syn_opts}
< . 1:1 ack 1 win 1000 {ack_opts}
accept
< . 1:101 ack 1 win 1000 {ack_opts}
+0.1 read
+0.1 write 100
+0.02 < . 101:101 ack 101 win 1000 {ack_opts}
""",
        **kw,
    )  # type: ignore[arg-type]


def _active(name: str, synack_opts: str, ack_opts: str = "", **kw: object) -> Scenario:
    return Scenario(
        name,
        f"""
connect
< S. 0:0 ack 1 win 65535 {synack_opts}
< . 1:101 ack 1 win 1000 {ack_opts}
+0.1 read
""",
        **kw,
    )  # type: ignore[arg-type]


SCENARIOS: list[Scenario] = [
    # ------------------------------------------------------------ passive open
    _passive("passive_open/mss_sack_ts_ws", ALL, "<TS>"),
    _passive("passive_open/no_options", ""),
    _passive("passive_open/mss", "<mss 1000>"),
    _passive("passive_open/mss_sack", "<mss 1460,sackOK>"),
    _passive("passive_open/mss_ts", "<mss 1460,TS>", "<TS>"),
    _passive("passive_open/mss_ws", "<mss 1460,wscale 7>"),
    _passive("passive_open/mss_sack_ts", "<mss 1460,sackOK,TS>", "<TS>"),
    _passive("passive_open/mss_sack_ws", "<mss 1460,sackOK,wscale 2>"),
    _passive("passive_open/ws_14", "<mss 1460,wscale 14>"),
    _passive("passive_open/ws_15_clamped", "<mss 1460,wscale 15>"),  # RFC 7323 2.3
    Scenario(
        "passive_open/data_on_final_ack",
        """
listen
< S 0:0 win 65535 <mss 1460,sackOK,wscale 7>
< . 1:101 ack 1 win 1000
accept
read
""",
    ),
    Scenario(
        "passive_open/syn_with_data",
        """
listen
< S 0:100 win 65535 <mss 1460,sackOK,wscale 7>
< . 1:1 ack 1 win 1000
accept
read
""",
    ),
    Scenario(
        "passive_open/synack_retransmit",
        """
listen
< S 0:0 win 65535 <mss 1460,sackOK,wscale 7>
+3.3 wait
""",
    ),
    Scenario(
        "passive_open/duplicate_syn",
        """
listen
< S 0:0 win 65535 <mss 1460,sackOK,wscale 7>
< S 0:0 win 65535 <mss 1460,sackOK,wscale 7>
""",
    ),
    # ------------------------------------------------------------- active open
    _active("active_open/mss_sack_ts_ws", ALL, "<TS>"),
    _active("active_open/no_options", ""),
    _active("active_open/mss", "<mss 1000>"),
    _active("active_open/mss_ts", "<mss 1460,TS>", "<TS>"),
    _active("active_open/mss_sack_ws", "<mss 1460,sackOK,wscale 7>"),
    _active("active_open/mss_sack_ts", "<mss 1460,sackOK,TS>", "<TS>"),
    Scenario(
        "active_open/syn_retransmit_timeout",
        """
connect
+3.3 wait
""",
        syn_retries=1,
        expected_difference=SYN_LINEAR,
    ),
    Scenario(
        "active_open/simultaneous_open",
        """
connect
< S 0:0 win 65535 <mss 1460,sackOK,wscale 7>
< S. 0:0 ack 1 win 65535 <mss 1460,sackOK,wscale 7>
< . 1:1 ack 1 win 1000
""",
        expected_difference=SIMOPEN,
    ),
    Scenario(
        "active_open/rst_ack_refused",
        """
connect
< R. 0:0 ack 1 win 0
""",
    ),
    Scenario(
        "active_open/rst_without_ack_ignored",
        """
connect
< R 0:0 win 0
+1.2 wait
""",
        syn_retries=1,
    ),
    Scenario(
        "active_open/synack_bad_ack",
        """
connect
< S. 0:0 ack 1000 win 65535 <mss 1460,sackOK,wscale 7>
""",
        expected_difference=SYNSENT_BAD_ACK,
    ),
    Scenario(
        "active_open/ack_without_syn",
        """
connect
< . 0:0 ack 1 win 65535
""",
    ),
    Scenario(
        "active_open/rst_bad_ack_ignored",
        """
connect
< R. 0:0 ack 5000 win 0
< S. 0:0 ack 1 win 65535 <mss 1460,sackOK,wscale 7>
""",
        expected_difference=SYNSENT_BAD_ACK,
    ),
    Scenario(
        "active_open/icmp_port_unreachable_hard",
        """
connect
< icmp unreach port
< S. 0:0 ack 1 win 65535 <mss 1460,sackOK,wscale 7>
""",
    ),
    # --------------------------------------------------- listener and SYN-RECEIVED
    Scenario(
        "listener/syn_fin_dropped",
        """
listen
< SF 0:0 win 65535 <mss 1460>
""",
    ),
    Scenario(
        "listener/syn_fin_urg_psh_nmap_t3",
        """
listen
< SFUP 0:0 win 65535 urg 0 <mss 1460>
""",
    ),
    Scenario(
        "listener/syn_rst_dropped",
        """
listen
< SR 0:0 win 65535 <mss 1460>
""",
    ),
    Scenario(
        "listener/fin_only_dropped",
        """
listen
< F 0:0 win 65535
""",
    ),
    Scenario(
        "listener/no_flags_dropped",
        """
listen
< none 0:0 win 65535
""",
    ),
    Scenario(
        "listener/ack_gets_rst",
        """
listen
< . 0:0 ack 100 win 65535
""",
    ),
    Scenario(
        "listener/closed_port_syn_rst",
        """
< S 0:0 win 65535 <mss 1460>
""",
    ),
    Scenario(
        "listener/closed_port_ack_rst",
        """
< . 1:11 ack 100 win 65535
""",
    ),
    Scenario(
        "syn_received/rst_then_ack",
        """
listen
< S 0:0 win 65535 <mss 1460,sackOK,wscale 7>
< R 1:1 win 0
< . 1:1 ack 1 win 1000
""",
    ),
    Scenario(
        "syn_received/bad_ack",
        """
listen
< S 0:0 win 65535 <mss 1460,sackOK,wscale 7>
< . 1:1 ack 5 win 1000
""",
    ),
    Scenario(
        "syn_received/full_accept_queue",
        """
listen 1
< S 0:0 win 65535 <mss 1460,sackOK,wscale 7>
< . 1:1 ack 1 win 1000
< S 0:0 win 65535 <mss 1460,sackOK,wscale 7> port 1
< . 1:1 ack 1 win 1000 port 1
< S 0:0 win 65535 <mss 1460,sackOK,wscale 7> port 2
< . 1:1 ack 1 win 1000 port 2
< S 0:0 win 65535 <mss 1460,sackOK,wscale 7> port 3
+0.5 wait
""",
        expected_difference=ACCEPT_QUEUE,
    ),
    Scenario(
        "syn_received/bad_checksum_syn",
        """
listen
< S 0:0 win 65535 <mss 1460> badsum
""",
    ),
    # ------------------------------------------------------------ receiving data
    Scenario(
        "data/first_segment_quickack",
        HS_NOTS
        + """
< . 1:1001 ack 1 win 1000
read
""",
    ),
    Scenario(
        "data/two_full_segments",
        HS_NOTS
        + """
< . 1:1461 ack 1 win 1000
+0 < . 1461:2921 ack 1 win 1000
read
""",
        expected_difference=BATCH,
    ),
    Scenario(
        "data/out_of_order_sack",
        HS_NOTS
        + """
< . 1001:2001 ack 1 win 1000
< . 3001:4001 ack 1 win 1000
< . 1:1001 ack 1 win 1000
read
""",
    ),
    Scenario(
        "data/out_of_order_no_sack",
        """
listen
< S 0:0 win 65535 <mss 1460,wscale 7>
< . 1:1 ack 1 win 1000
accept
< . 1001:2001 ack 1 win 1000
< . 1:1001 ack 1 win 1000
read
""",
    ),
    Scenario(
        "data/out_of_order_three_blocks",
        HS_NOTS
        + """
< . 1001:1101 ack 1 win 1000
< . 2001:2101 ack 1 win 1000
< . 3001:3101 ack 1 win 1000
< . 4001:4101 ack 1 win 1000
""",
    ),
    Scenario(
        "data/duplicate_dsack",
        HS_NOTS
        + """
< . 1:1001 ack 1 win 1000
< . 1:1001 ack 1 win 1000
read
""",
    ),
    Scenario(
        "data/partial_duplicate_dsack",
        HS_NOTS
        + """
< . 1:1001 ack 1 win 1000
< . 501:1501 ack 1 win 1000
read
""",
    ),
    Scenario(
        "data/beyond_window",
        """
listen
< S 0:0 win 65535 <mss 1460,sackOK>
< . 1:1 ack 1 win 1000
accept
< . 200001:201001 ack 1 win 1000
""",
    ),
    Scenario(
        "data/bad_checksum_ignored",
        HS_NOTS
        + """
< . 1:1001 ack 1 win 1000 badsum
< . 1:1001 ack 1 win 1000
read
""",
    ),
    Scenario(
        "data/fin_with_data",
        HS_NOTS
        + """
< F. 1:101 ack 1 win 1000
+0.1 read
""",
        tolerance=0.01,
    ),
    Scenario(
        "data/urgent_data",
        HS_NOTS
        + """
< U. 1:101 ack 1 win 1000 urg 50
read
""",
        expected_difference=URGENT,
    ),
    Scenario(
        "data/no_ack_flag_dropped",
        HS_NOTS
        + """
< none 1:101 win 1000
read
""",
    ),
    # ------------------------------------------------------------- ACK policy
    Scenario(
        "ack/delayed_after_quickack",
        HS_NOTS
        + "\n".join(
            f"+0.015 < . {1 + 100 * i}:{101 + 100 * i} ack 1 win 1000\n+0.005 read"
            for i in range(16)
        )
        # past the 16 quick ACKs: pairs of small segments 5 ms apart, then a read
        + "".join(
            f"\n+0.1 < . {1601 + 200 * i}:{1701 + 200 * i} ack 1 win 1000"
            f"\n+0.005 < . {1701 + 200 * i}:{1801 + 200 * i} ack 1 win 1000"
            "\n+0.005 read"
            for i in range(3)
        )
        + "\n+0.1 wait",
        tolerance=0.01,
    ),
    Scenario(
        "ack/pingpong_piggyback",
        HS_NOTS
        + """
< . 1:101 ack 1 win 1000
read
< . 1:1 ack 1 win 1000
+0.3 < . 101:201 ack 1 win 1000
+0.005 read
write 50
< . 201:301 ack 51 win 1000
+0.005 read
write 50
""",
    ),
    # --------------------------------------------------------------- sending
    Scenario(
        "send/nagle_holds_second_small_write",
        HS_NOTS
        + """
write 100
+0.005 write 100
+0.04 < . 1:1 ack 101 win 1000
""",
    ),
    Scenario(
        "send/nodelay_sends_both",
        HS_NOTS
        + """
write 100
+0.005 write 100
+0.04 < . 1:1 ack 201 win 1000
""",
        nodelay=True,
    ),
    Scenario(
        "send/minshall_tail",
        """
listen
< S 0:0 win 65535 <mss 536,sackOK,wscale 7>
< . 1:1 ack 1 win 1000
accept
write 1000
+0.3 < . 1:1 ack 1001 win 1000
""",
    ),
    Scenario(
        "send/mss_536_segments",
        """
listen
< S 0:0 win 65535 <mss 536,sackOK,wscale 7>
< . 1:1 ack 1 win 1000
accept
write 1608
< . 1:1 ack 1609 win 1000
""",
        nodelay=True,
    ),
    Scenario(
        "send/no_mss_option_default_536",
        """
listen
< S 0:0 win 65535 <sackOK,wscale 7>
< . 1:1 ack 1 win 1000
accept
write 1072
< . 1:1 ack 1073 win 1000
""",
        nodelay=True,
    ),
    Scenario(
        "send/peer_window_limits",
        """
listen
< S 0:0 win 1024 <mss 1460,sackOK,wscale 7>
< . 1:1 ack 1 win 8
accept
write 3000
+0.1 < . 1:1 ack 1025 win 8
+0.1 < . 1:1 ack 2049 win 100
""",
        nodelay=True,
    ),
    Scenario(
        "send/peer_window_unscaled",
        """
listen
< S 0:0 win 1000 <mss 1460,sackOK>
< . 1:1 ack 1 win 1000
accept
write 3000
+0.1 < . 1:1 ack 1001 win 5000
""",
        nodelay=True,
        expected_difference=HALF_WINDOW,
    ),
    Scenario(
        "send/shrunk_window_after_handshake",
        """
connect
< S. 0:0 ack 1 win 65535 <mss 1460,sackOK,wscale 7>
< . 1:1 ack 1 win 2
write 1000
+0.4 wait
""",
        nodelay=True,
    ),
    Scenario(
        "send/ack_of_unsent_data",
        HS_NOTS
        + """
< . 1:1 ack 1000 win 1000
< . 1:101 ack 1 win 1000
read
""",
    ),
    Scenario(
        "send/old_ack_ignored",
        HS_NOTS
        + """
write 100
< . 1:1 ack 101 win 1000
< . 1:1 ack 1 win 1000
""",
    ),
    # ------------------------------------------------------- zero window, persist
    Scenario(
        "persist/zero_window_probes",
        HS_NOTS
        + """
write 100
+0.02 < . 1:1 ack 101 win 0
+0.005 write 100
+1.6 < . 1:1 ack 101 win 1000
""",
    ),
    Scenario(
        "persist/window_update_resumes",
        HS_NOTS
        + """
write 100
< . 1:1 ack 101 win 0
write 100
+0.1 < . 1:1 ack 101 win 1000
+0.1 < . 1:1 ack 201 win 1000
""",
    ),
    # ------------------------------------------------- RST and SYN acceptability
    Scenario(
        "rst/exact_seq_resets",
        HS_NOTS
        + """
< R. 1:1 ack 1 win 0
read
""",
    ),
    Scenario(
        "rst/in_window_challenge_ack",
        HS_NOTS
        + """
< R. 1001:1001 ack 1 win 0
read
""",
    ),
    Scenario(
        "rst/out_of_window_ignored",
        HS_NOTS
        + """
< R. 500000:500000 ack 1 win 0
read
""",
    ),
    Scenario(
        "rst/without_ack_exact",
        HS_NOTS
        + """
< R 1:1 win 0
read
""",
    ),
    Scenario(
        "rst/paws_old_ts_still_resets",
        HS
        + """
< R. 1:1 ack 1 win 0 <TS old>
read
""",
    ),
    Scenario(
        "syn/in_window_challenge_ack",
        HS_NOTS
        + """
< S 1000:1000 win 65535 <mss 1460>
read
""",
    ),
    Scenario(
        "syn/out_of_window_challenge_ack",
        HS_NOTS
        + """
< S 900000:900000 win 65535 <mss 1460>
read
""",
    ),
    Scenario(
        "syn/syn_ack_in_established",
        HS_NOTS
        + """
< S. 0:0 ack 1 win 65535 <mss 1460>
read
""",
    ),
    # ------------------------------------------------------------------ PAWS
    Scenario(
        "paws/old_timestamp_dropped",
        HS
        + """
< . 1:101 ack 1 win 1000 <TS old>
read
""",
    ),
    Scenario(
        "paws/fresh_after_old",
        HS
        + """
< . 1:101 ack 1 win 1000 <TS old>
< . 1:101 ack 1 win 1000 <TS>
read
""",
    ),
    Scenario(
        "ts/data_without_ts_after_negotiation",
        HS
        + """
< . 1:101 ack 1 win 1000
read
""",
    ),
    # ---------------------------------------------------------------- closing
    Scenario(
        "close/active_fin_wait_to_time_wait",
        HS_NOTS
        + """
close
< . 1:1 ack 2 win 1000
< F. 1:1 ack 2 win 1000
""",
    ),
    Scenario(
        "close/fin_wait_2_receives_data",
        HS_NOTS
        + """
shutdown
< . 1:1 ack 2 win 1000
< . 1:101 ack 2 win 1000
read
< F. 101:101 ack 2 win 1000
read
""",
    ),
    Scenario(
        "close/closing_simultaneous",
        HS_NOTS
        + """
close
+0.02 < F. 1:1 ack 1 win 1000
+0.02 < . 2:2 ack 2 win 1000
""",
    ),
    Scenario(
        "close/close_wait_then_last_ack",
        HS_NOTS
        + """
< F. 1:1 ack 1 win 1000
read
write 100
< . 2:2 ack 101 win 1000
close
< . 2:2 ack 102 win 1000
""",
    ),
    Scenario(
        "close/last_ack_fin_retransmit",
        HS_NOTS
        + """
< F. 1:1 ack 1 win 1000
read
close
+0.7 wait
""",
    ),
    Scenario(
        "close/time_wait_retransmitted_fin",
        HS_NOTS
        + """
close
< F. 1:1 ack 2 win 1000
< F. 1:1 ack 2 win 1000
""",
    ),
    Scenario(
        "close/time_wait_rst_kills",
        HS_NOTS
        + """
close
< F. 1:1 ack 2 win 1000
< R. 2:2 ack 2 win 0
< F. 1:1 ack 2 win 1000
""",
        expected_difference=RFC1337,
    ),
    Scenario(
        "close/time_wait_reuse_newer_syn",
        HS
        + """
close
< F. 1:1 ack 2 win 1000 <TS>
+0.2 < S 100000:100000 win 65535 {ALL}
""".replace("{ALL}", ALL),
    ),
    Scenario(
        "close/time_wait_reuse_newer_syn_no_ts",
        HS_NOTS
        + """
close
< F. 1:1 ack 2 win 1000
+0.2 < S 100000:100000 win 65535 <mss 1460,sackOK,wscale 7>
< . 100001:100001 ack 1 win 1000
""",
    ),
    Scenario(
        "close/duplicate_fin_dsack",
        HS_NOTS
        + """
< F. 1:1 ack 1 win 1000
< F. 1:1 ack 1 win 1000
read
""",
    ),
    Scenario(
        "close/unread_data_close_sends_rst",
        HS_NOTS
        + """
< . 1:101 ack 1 win 1000
close
""",
    ),
    Scenario(
        "close/data_after_close_rst",
        HS_NOTS
        + """
close
< . 1:1 ack 2 win 1000
< . 1:101 ack 2 win 1000
""",
    ),
    Scenario(
        "close/abort_rst",
        HS
        + """
abort
""",
    ),
    Scenario(
        "close/abort_rst_no_ts",
        HS_NOTS
        + """
abort
""",
    ),
    Scenario(
        "close/shutdown_keeps_receiving",
        HS_NOTS
        + """
shutdown
< . 1:101 ack 2 win 1000
read
""",
    ),
    Scenario(
        "close/fin_in_syn_received_then_ack",
        """
listen
< S 0:0 win 65535 <mss 1460,sackOK,wscale 7>
< F. 1:1 ack 1 win 1000
accept
read
""",
    ),
    # ------------------------------------------------ retransmission and recovery
    Scenario(
        "rto/after_silence_backoff",
        HS_NOTS
        + """
write 100
+0.85 < . 1:1 ack 101 win 1000
""",
    ),
    Scenario(
        "rto/after_idle",
        HS
        + """
+0.4 write 100
+0.8 < . 1:1 ack 101 win 1000 <TS>
""",
    ),
    Scenario(
        "recovery/fast_retransmit_sack",
        """
listen
< S 0:0 win 65535 <mss 1000,sackOK,wscale 7>
< . 1:1 ack 1 win 1000
accept
write 5000
+0.02 < . 1:1 ack 1001 win 1000
+0.02 < . 1:1 ack 1001 win 1000 <sack 2001:3001>
+0.02 < . 1:1 ack 1001 win 1000 <sack 2001:4001>
+0.02 < . 1:1 ack 1001 win 1000 <sack 2001:5001>
+0.05 < . 1:1 ack 5001 win 1000
""",
        nodelay=True,
    ),
    Scenario(
        "recovery/fast_retransmit_dupacks_no_sack",
        """
listen
< S 0:0 win 65535 <mss 1000,wscale 7>
< . 1:1 ack 1 win 1000
accept
write 5000
+0.02 < . 1:1 ack 1001 win 1000
+0.02 < . 1:1 ack 1001 win 1000
+0.02 < . 1:1 ack 1001 win 1000
+0.02 < . 1:1 ack 1001 win 1000
+0.05 < . 1:1 ack 5001 win 1000
""",
        nodelay=True,
    ),
    Scenario(
        "recovery/tail_loss_probe",
        HS_NOTS
        + """
write 3000
+0.6 < . 1:1 ack 3001 win 1000
""",
        nodelay=True,
    ),
    Scenario(
        "recovery/icmp_frag_needed",
        """
listen
< S 0:0 win 65535 <mss 1460,sackOK,wscale 7>
< . 1:1 ack 1 win 1000
accept
write 1460
+0.02 < icmp unreach frag 1000
+0.02 < . 1:1 ack 1461 win 1000
""",
        nodelay=True,
    ),
    Scenario(
        "recovery/icmp_host_unreachable_soft",
        HS_NOTS
        + """
write 100
+0.02 < icmp unreach host
+0.02 < . 1:1 ack 101 win 1000
read
""",
    ),
    # ---------------------------------------------------------------- keepalive
    Scenario(
        "keepalive/unanswered_reset",
        HS_NOTS
        + """
+3.3 read
""",
        keepalive=(1, 1, 2),
    ),
    Scenario(
        "keepalive/answered",
        HS_NOTS
        + """
+1.1 < . 1:1 ack 1 win 1000
+1.2 read
""",
        keepalive=(1, 1, 2),
    ),
    # ----------------------------------------------------------------- UDP, ICMP
    Scenario(
        "udp/datagram_delivered",
        """
udp_bind
< udp 100
udp_recv
""",
    ),
    Scenario(
        "udp/closed_port_icmp",
        """
< udp 100 closed
""",
    ),
    Scenario(
        "udp/connected_icmp_error",
        """
udp_connect
udp_send 10
< icmp unreach port
udp_recv
""",
    ),
    Scenario(
        "icmp/echo_reply",
        """
< icmp echo
""",
    ),
]

# more categories: listener corner cases, TIME-WAIT answers, congestion window, RACK
SCENARIOS += [
    Scenario(
        "listener/rst_dropped",
        """
listen
< R 0:0 win 0
""",
    ),
    Scenario(
        "listener/synack_gets_rst",
        """
listen
< S. 0:0 ack 100 win 65535 <mss 1460>
""",
    ),
    Scenario(
        "listener/close_resets_queued_connection",
        """
listen
< S 0:0 win 65535 <mss 1460,sackOK,wscale 7>
< . 1:1 ack 1 win 1000
close
""",
    ),
    Scenario(
        "close/time_wait_old_syn_gets_ack",
        HS_NOTS
        + """
close
+0.02 < F. 1:1 ack 2 win 1000
+0.02 < S 0:0 win 65535 <mss 1460,sackOK,wscale 7>
""",
    ),
    Scenario(
        "close/time_wait_data_gets_ack",
        HS_NOTS
        + """
close
+0.02 < F. 1:1 ack 2 win 1000
+0.02 < . 2:102 ack 2 win 1000
""",
    ),
    Scenario(
        "close/rst_in_close_wait",
        HS_NOTS
        + """
< F. 1:1 ack 1 win 1000
read
< R. 2:2 ack 1 win 0
read
""",
    ),
    Scenario(
        "close/rst_in_last_ack",
        HS_NOTS
        + """
< F. 1:1 ack 1 win 1000
read
close
+0.02 < R. 2:2 ack 2 win 0
""",
    ),
    Scenario(
        "close/fin_wait_1_data_acked_then_fin",
        HS_NOTS
        + """
write 100
close
+0.02 < . 1:1 ack 101 win 1000
+0.02 < . 1:1 ack 102 win 1000
+0.02 < F. 1:1 ack 102 win 1000
""",
    ),
    Scenario(
        "data/out_of_order_fin",
        HS_NOTS
        + """
< F. 101:101 ack 1 win 1000
< . 1:101 ack 1 win 1000
read
""",
    ),
    Scenario(
        "send/peer_mss_above_our_mtu",
        """
listen
< S 0:0 win 65535 <mss 9000,sackOK,wscale 7>
< . 1:1 ack 1 win 1000
accept
write 3000
+0.02 < . 1:1 ack 3001 win 1000
""",
        nodelay=True,
    ),
    Scenario(
        "send/initial_cwnd_10_segments",
        """
listen
< S 0:0 win 65535 <mss 1000,sackOK,wscale 7>
< . 1:1 ack 1 win 1000
accept
write 15000
+0.02 < . 1:1 ack 10001 win 1000
+0.02 < . 1:1 ack 15001 win 1000
""",
        nodelay=True,
    ),
    Scenario(
        "recovery/rack_single_sack",
        """
listen
< S 0:0 win 65535 <mss 1000,sackOK,wscale 7>
< . 1:1 ack 1 win 1000
accept
write 4000
+0.02 < . 1:1 ack 1 win 1000 <sack 3001:4001>
+0.05 < . 1:1 ack 4001 win 1000
""",
        nodelay=True,
    ),
    Scenario(
        "recovery/sack_hole_filled_partially",
        """
listen
< S 0:0 win 65535 <mss 1000,sackOK,wscale 7>
< . 1:1 ack 1 win 1000
accept
write 6000
+0.02 < . 1:1 ack 1001 win 1000 <sack 3001:4001>
+0.03 < . 1:1 ack 1001 win 1000 <sack 3001:5001>
+0.03 < . 1:1 ack 1001 win 1000 <sack 3001:6001>
+0.03 < . 1:1 ack 2001 win 1000 <sack 3001:6001>
+0.03 < . 1:1 ack 6001 win 1000
""",
        nodelay=True,
        tolerance=0.01,
    ),
]

# request/response exchanges (Linux's pingpong mode) and a few odd handshakes
SCENARIOS += [
    Scenario(
        "ack/pingpong_delays_ack_for_response",
        HS_NOTS
        + """
< . 1:101 ack 1 win 1000
+0.005 read
+0.005 write 50
+0.02 < . 101:201 ack 51 win 1000
+0.01 read
+0.01 write 50
+0.02 < . 201:201 ack 101 win 1000
""",
        tolerance=0.01,
    ),
    Scenario(
        "active_open/synack_with_data_ignored",
        """
connect
< S. 0:100 ack 1 win 65535 <mss 1460,sackOK,wscale 7>
read
""",
    ),
    Scenario(
        "active_open/fin_in_syn_sent_ignored",
        """
connect
< F. 0:0 ack 1 win 65535
+0.05 < S. 0:0 ack 1 win 65535 <mss 1460,sackOK,wscale 7>
""",
    ),
    Scenario(
        "data/window_probe_from_peer_gets_ack",
        HS_NOTS
        + """
< . 0:0 ack 1 win 1000
< . 0:1 ack 1 win 1000
read
""",
    ),
]

# The same scenarios over IPv6 (issue 12): handshake and options, RST, the
# closing states, a listener's answers, UDP and ICMPv6. Both systems get the
# remote host's packets over IPv6 (2001:2::/48, RFC 5180) and are compared alike.
IPV6_VARIANTS = (
    "passive_open/mss_sack_ts_ws",
    "passive_open/no_options",
    "passive_open/synack_retransmit",
    "active_open/mss_sack_ts_ws",
    "active_open/rst_ack_refused",
    "active_open/icmp_port_unreachable_hard",
    "listener/ack_gets_rst",
    "listener/closed_port_syn_rst",
    "syn_received/rst_then_ack",
    "data/out_of_order_sack",
    "rst/exact_seq_resets",
    "rst/in_window_challenge_ack",
    "close/active_fin_wait_to_time_wait",
    "close/close_wait_then_last_ack",
    "close/time_wait_retransmitted_fin",
    "close/abort_rst",
    "udp/closed_port_icmp",
    "udp/connected_icmp_error",
    "icmp/echo_reply",
)
SCENARIOS += [
    dataclasses.replace(sc, name=f"ipv6/{sc.name}", ipv6=True)
    for sc in list(SCENARIOS)
    if sc.name in IPV6_VARIANTS
]
