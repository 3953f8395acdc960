"""The compiled inner loop of the recursive-swapping construction
(`scheduling.solver_swap`), in numba's nopython mode.

Arrays only, indices throughout. A *unit* is what is placed at once: an
activity, or the activities of one "same starting time" group. Resources are
rows of `occ` (subgroups, then teachers, then rooms); `occ[r, s]` is the
activity holding resource r at slot s, -1 when free and -2 when the resource
cannot be used then (a closed room).

Every function takes the instance as one tuple, `data` (CSR pairs: `*_ptr`
indexes into the array after it):

    (H, u_mem_ptr, u_mem, u_st_ptr, u_st, a_unit, a_dur, a_res_ptr, a_res,
     a_rc_ptr, a_rc, a_md_ptr, a_md, md_ptr, md_mem, md_k, md_cons, md_soft,
     md_p, md_cap, a_at, r_maxdays, u_flags, p_rule, p_cnt, om_ptr, om_mem,
     om_sel, om_k, a_om_ptr, a_om, MH, r_iv, a_ends, r_ends, a_bld, r_bgap,
     r_bmax)

* `H` — slots a day; `MH` — slots a real day, for min days (`H`, or twice
  it in FET's mornings-afternoons mode: `Compiled.MH`); `u_mem_ptr, u_mem` —
  a unit's activities; `u_st_ptr, u_st` — its allowed start slots;
  `a_unit`, `a_dur` — an activity's unit and duration;
* `a_res_ptr, a_res` — the resources an activity always holds (subgroups,
  teachers, a fixed room); `a_rc_ptr, a_rc` — its candidate rooms when it
  has a choice (one is taken at placement);
* `a_md_ptr, a_md` — the day relations an activity is in; `md_ptr, md_mem`
  their activities; `md_k[m]` — the least number of days between them (hard
  min days; 0: none); `md_cons[m]` — on one day they must be back to back
  (1), or at least -`md_cons[m]` hours apart (negative: min gaps between
  activities, FET's day);
  `md_soft[m]` — soft min days (0: none), enforced at each look with the
  probability `md_p[m]` (their weight, as FET reads a soft min-days
  constraint when it places) and otherwise only preferred; `md_cap[m]` —
  the most of its pairs one lesson may break even so (read in place: the
  construction sets it when it repairs, `Construction.cap`);
* `a_at[a, t]` — where activity a starts when its unit starts at t (t itself,
  or later for the second of two consecutive lessons); `r_maxdays[r]` — the
  most days resource r may be busy on (a teacher's or a subgroup's max days
  a week; the number of days when there is none); `r_iv[r]` — (first hour,
  end hour, max days): the most days r may be busy within those hours (a
  max days in an interval; max days = the number of days: none); `a_ends[a]`
  — lesson a ends its students' day, `r_ends[r]` — resource r (a subgroup)
  has such a lesson; `a_bld[a]` — the building of lesson a's rooms (-1:
  none, or its people have no building rules), `r_bgap[r]` — resource r's
  least free hours before a change of building (0: none), `r_bmax[r]` — the
  most changes of building on one of its days (`UNCAPPED`: no limit);
  `u_flags[u]` — bit
  `NOT_PLAIN`: a member of unit u starts later than it (`a_at` is looked
  at), bit `EXTRA`: a member has a resource with max days, "ends the
  students' day" or building rules, or is in a soft min days with a cap
  (`_extra_rules`), bit `DAY_RULES`: a member has a
  person with day rules or is in a selection (`_day_rules`). Kept out of
  `_conflicts`' loops, as calls: there they made GYR's steps (which need
  neither) about 45 % slower;
* `p_rule[p]` — person p's day rules (columns `P_GAPD` … `P_GAPW`; p
  indexes the subgroups, then the teachers, as resource rows do),
  `p_cnt[p, s]` — slot s counts for p's gaps (not a break, not a time p
  is not available);
* `om_ptr, om_mem` — each selection's lessons, `om_sel[c, s]` — slot s is
  in selection c, `om_k[c]` — the most of them its lessons may occupy;
  `a_om_ptr, a_om` — the selections a lesson is in.

The timetable is `state = (occ, start, room)` (a start slot and a room row
per activity, -1: none), and the attempts' scratch space is `work` (`_work`,
made once per construction and reused by every call).

Compiled with `cache=True`: the first process on a machine compiles the
kernel (about 20 s of CPU) and writes it to numba's cache (`__pycache__`
beside this file, or `NUMBA_CACHE_DIR`); later ones load it in well under a
second. `_swap` keeps its own stack of levels rather than calling itself:
numba's cache cannot hold a recursive function (numba issue #6061; it
crashed in a later process).
"""

from typing import Any

import numpy as np
from numba import njit


def _kernel(fn):
    """`njit` with numba's cache, or without it where there is no writable
    place for one (numba raises then: no locator available)."""
    try:
        return njit(cache=True)(fn)
    except RuntimeError:
        return njit(fn)


#: the most units one placement may evict (a slot needing more is not tried)
EVICT_CAP = 24
#: the deepest chain of evictions one attempt follows (FET uses 14)
LEVELS = 14
#: from this level of a chain on, a unit tries only its best start: when that
#: chain fails, the level above tries its next start instead (FET's choice;
#: trying every start at every level spent the attempt's calls deep down and
#: left GYR 20–47 units short after 280 s, where this solved it)
ONE_TRY_FROM = 5
#: without FET's order of the forced starts (`run`), what each earlier
#: eviction of a unit from its start adds to its weight (a one-hour lesson
#: weighs 1)
TRIED_WEIGHT = 0.1
#: `md_cap` of a soft min days whose broken pairs are not counted
UNCAPPED = 1 << 30
#: `u_flags` bits
NOT_PLAIN = 1
EXTRA = 2
DAY_RULES = 4
#: `p_rule` columns: max gaps a day (-1: none; 0 also with zero gaps a
#: week), early max beginnings at the second hour (-1: none), min hours on
#: a busy day (0: none), max hours a day, the person's lesson hours in the
#: week, the person has any of these (1), max gaps a week (-1: none), max
#: hours in a row (H: none), the min hours hold for every day, empty ones
#: too (1), min days a week (0: none)
P_GAPD, P_EARLY, P_MINH, P_MAXH, P_TOTAL, P_ANY, P_GAPW, P_CONT, P_EVERY, P_MIND = range(10)
#: an excess that no eviction elsewhere brings down (a day over max hours)
OVER = 1 << 30


@_kernel
def _conflicts(u, t, data, state, out, mark, stamp, rooms_out):
    """The units that must leave for unit u to start at t, into `out`; their
    number, or -1 when u cannot start there (a closed resource, no room, or
    more than EVICT_CAP to evict). The rooms its members would take go to
    `rooms_out` (-1: none chosen)."""
    H, u_mem_ptr, u_mem, _, _, a_unit, a_dur, a_res_ptr, a_res = data[:9]
    a_rc_ptr, a_rc, a_md_ptr, a_md, md_ptr, md_mem, md_k, md_cons, md_soft, md_p = data[9:19]
    a_at, MH = data[20], data[31]
    plain = (data[22][u] & NOT_PLAIN) == 0
    occ, start, _ = state
    n = 0
    base = u_mem_ptr[u]
    t0 = t
    for i in range(base, u_mem_ptr[u + 1]):
        a = u_mem[i]
        t = t0 if plain else a_at[a, t0]
        rooms_out[i - base] = -1
        dur = a_dur[a]
        for j in range(a_res_ptr[a], a_res_ptr[a + 1]):
            for s in range(t, t + dur):
                o = occ[a_res[j], s]
                if o == -2:
                    return -1
                if o >= 0 and a_unit[o] != u:
                    n = _add(a_unit[o], out, n, mark, stamp)
                    if n < 0:
                        return -1
        if a_rc_ptr[a + 1] > a_rc_ptr[a]:
            # the candidate room with the fewest occupants to evict, not one
            # another member of the unit takes (chosen or fixed); the
            # candidates looked at from a random one on, so that a tie does
            # not always go to the first
            best_r = -1
            best_c = 1 << 30
            nrc = a_rc_ptr[a + 1] - a_rc_ptr[a]
            off = np.random.randint(nrc)
            for jj in range(nrc):
                r = a_rc[a_rc_ptr[a] + (off + jj) % nrc]
                blocked = False
                for i2 in range(base, i):
                    if rooms_out[i2 - base] == r:
                        blocked = True
                for i2 in range(base, u_mem_ptr[u + 1]):
                    b = u_mem[i2]
                    for j2 in range(a_res_ptr[b], a_res_ptr[b + 1]):
                        if a_res[j2] == r:
                            blocked = True
                if blocked:
                    continue
                c = 0
                for s in range(t, t + dur):
                    o = occ[r, s]
                    if o == -2:
                        blocked = True
                        break
                    if o >= 0 and a_unit[o] != u and mark[a_unit[o]] != stamp:
                        c += 1
                if not blocked and c < best_c:
                    best_c = c
                    best_r = r
                    if c == 0:
                        break
            if best_r < 0:
                return -1
            rooms_out[i - base] = best_r
            for s in range(t, t + dur):
                o = occ[best_r, s]
                if o >= 0 and a_unit[o] != u:
                    n = _add(a_unit[o], out, n, mark, stamp)
                    if n < 0:
                        return -1
        d = t // MH
        for j in range(a_md_ptr[a], a_md_ptr[a + 1]):
            md = a_md[j]
            k = md_k[md]
            if md_soft[md] > 0 and np.random.random() < md_p[md]:
                k = md_soft[md]
            for q in range(md_ptr[md], md_ptr[md + 1]):
                b = md_mem[q]
                if b == a or start[b] < 0 or a_unit[b] == u:
                    continue
                db = start[b] // MH
                bad = abs(db - d) < k
                if not bad and md_cons[md] > 0 and db == d:
                    bad = start[b] // H != t // H or not (
                        start[b] + a_dur[b] == t or t + dur == start[b]
                    )
                elif md_cons[md] < 0 and start[b] // H == t // H:
                    # min gaps: that many free hours between them on a day
                    if start[b] >= t:
                        bad = start[b] - (t + dur) < -md_cons[md]
                    else:
                        bad = t - (start[b] + a_dur[b]) < -md_cons[md]
                if bad:
                    n = _add(a_unit[b], out, n, mark, stamp)
                    if n < 0:
                        return -1
    return n


@_kernel
def _extra_rules(u, t0, data, state, out, n, mark, stamp):
    """`_conflicts` for unit u at t0, continued with the rules few schools
    have: "ends the students' day", max days a week or in an interval
    (`_max_days`), building changes (`_buildings`) and the cap on broken
    pairs of a
    soft min days (`md_cap`: a lesson keeps at most that many partners
    closer than its days, the others leave, and so does a partner that
    would break more with its partners that stay; `_broken`). The units
    already leaving (`mark`) are left out. The new count, or -1."""
    H, u_mem_ptr, u_mem, a_unit, a_res_ptr, a_res = (
        data[0],
        data[1],
        data[2],
        data[5],
        data[7],
        data[8],
    )
    a_md_ptr, a_md, md_ptr, md_mem, md_soft, md_cap = (
        data[11],
        data[12],
        data[13],
        data[14],
        data[17],
        data[19],
    )
    a_at, r_maxdays, flags, MH = data[20], data[21], data[22][u], data[31]
    a_dur, r_iv, a_ends, r_ends = data[6], data[32], data[33], data[34]
    a_bld, r_bgap, r_bmax = data[35], data[36], data[37]
    D = a_at.shape[1] // H
    occ, start = state[0], state[1]
    for i in range(u_mem_ptr[u], u_mem_ptr[u + 1]):
        a = u_mem[i]
        ta = t0 if (flags & NOT_PLAIN) == 0 else a_at[a, t0]
        d = ta // H
        for j in range(a_res_ptr[a], a_res_ptr[a + 1]):
            r = a_res[j]
            if r_ends[r]:
                # "ends the students' day": nothing of r after such a lesson
                # on its day; such a lesson of r before this one leaves
                if a_ends[a]:
                    for s in range(ta + a_dur[a], d * H + H):
                        o = occ[r, s]
                        if o >= 0 and a_unit[o] != u:
                            n = _add(a_unit[o], out, n, mark, stamp)
                            if n < 0:
                                return -1
                for s in range(d * H, ta):
                    o = occ[r, s]
                    if o >= 0 and a_ends[o] and a_unit[o] != u:
                        n = _add(a_unit[o], out, n, mark, stamp)
                        if n < 0:
                            return -1
            if r_maxdays[r] < D:
                n = _max_days(r, u, d, 0, H, r_maxdays[r], data, state, out, n, mark, stamp)
                if n < 0:
                    return -1
            if a_bld[a] >= 0 and (r_bgap[r] > 0 or r_bmax[r] < UNCAPPED):
                n = _buildings(r, a, u, ta, data, state, out, n, mark, stamp)
                if n < 0:
                    return -1
            h = ta % H
            if r_iv[r, 2] < D and h < r_iv[r, 1] and h + a_dur[a] > r_iv[r, 0]:
                n = _max_days(
                    r, u, d, r_iv[r, 0], r_iv[r, 1], r_iv[r, 2], data, state, out, n, mark, stamp
                )
                if n < 0:
                    return -1
        for j in range(a_md_ptr[a], a_md_ptr[a + 1]):
            md = a_md[j]
            ks = md_soft[md]
            if md_cap[md] >= UNCAPPED or ks == 0:
                continue
            kept = 0
            for q in range(md_ptr[md], md_ptr[md + 1]):
                b = md_mem[q]
                if b == a or start[b] < 0 or a_unit[b] == u or mark[a_unit[b]] == stamp:
                    continue
                if abs(start[b] // MH - ta // MH) >= ks:
                    continue
                if kept >= md_cap[md] or _broken(b, a, u, ks, md, data, state, mark, stamp):
                    n = _add(a_unit[b], out, n, mark, stamp)
                    if n < 0:
                        return -1
                else:
                    kept += 1
    return n


@_kernel
def _day_rules(u, t0, data, state, out, n, mark, stamp, moved, row):
    """`_conflicts` for unit u at t0, continued with the day rules of its
    people (`_person`) and the "occupy at most k of these slots"
    selections of its lessons (`_selection`). The units already leaving
    (`mark`) and those moved in the attempt (`moved`) are not chosen. The
    new count, or -1. `row` is scratch space of a slot per entry."""
    u_mem_ptr, u_mem, a_res_ptr, a_res = data[1], data[2], data[7], data[8]
    p_rule, a_om_ptr, a_om = data[23], data[29], data[30]
    npeople = p_rule.shape[0]
    for i in range(u_mem_ptr[u], u_mem_ptr[u + 1]):
        a = u_mem[i]
        for j in range(a_res_ptr[a], a_res_ptr[a + 1]):
            r = a_res[j]
            if r < npeople and p_rule[r, P_ANY]:
                n = _person(r, u, t0, data, state, out, n, mark, stamp, moved, row)
                if n < 0:
                    return -1
        ta = t0 if (data[22][u] & NOT_PLAIN) == 0 else data[20][a, t0]
        for j in range(a_om_ptr[a], a_om_ptr[a + 1]):
            c = a_om[j]
            inside = False
            for s in range(ta, ta + data[6][a]):
                if data[27][c, s]:
                    inside = True
            if inside:  # else a lesson at t0 adds none of its slots
                n = _selection(c, u, t0, data, state, out, n, mark, stamp, moved, row)
                if n < 0:
                    return -1
    return n


@_kernel
def _person(r, u, t0, data, state, out, n, mark, stamp, moved, row):
    """Person r's day rules with unit u at t0 and the marked units gone:
    while what their days still need (`_day_need`) is more than the hours
    they have left to place, the unit at the start or end of one of their
    days that brings it down the most leaves (ties at random). The new
    count, or -1 when none can or more than EVICT_CAP would leave."""
    H, u_mem_ptr, u_mem, a_unit, a_dur, a_res_ptr, a_res = (
        data[0],
        data[1],
        data[2],
        data[5],
        data[6],
        data[7],
        data[8],
    )
    a_at, plain = data[20], (data[22][u] & NOT_PLAIN) == 0
    occ = state[0]
    S = row.shape[0]
    for s in range(S):
        o = occ[r, s]
        row[s] = a_unit[o] if o >= 0 and a_unit[o] != u and mark[a_unit[o]] != stamp else -1
    for i in range(u_mem_ptr[u], u_mem_ptr[u + 1]):
        a = u_mem[i]
        for j in range(a_res_ptr[a], a_res_ptr[a + 1]):
            if a_res[j] == r:
                ta = t0 if plain else a_at[a, t0]
                for s in range(ta, ta + a_dur[a]):
                    row[s] = u
    # the week's sums of the days' needs, hours, late beginnings, gaps and
    # busy days
    need = 0
    hours = 0
    late = 0
    gaps = 0
    days = 0
    for d in range(S // H):
        h, nd, lt, g = _day_need(r, row, -1, d, data)
        need += nd
        hours += h
        late += lt
        gaps += g
        days += h > 0
    ex = _excess(r, need, hours, late, gaps, days, data)
    while ex > 0:
        best_v = -1
        best_key = 1e18
        for d in range(S // H):
            h0, nd0, lt0, g0 = _day_need(r, row, -1, d, data)
            for end in range(2):
                v = -1
                for h in range(H):
                    s = d * H + (h if end == 0 else H - 1 - h)
                    if row[s] >= 0 and row[s] != u:
                        v = row[s]
                        break
                if v < 0 or moved[v]:
                    continue
                h1, nd1, lt1, g1 = _day_need(r, row, v, d, data)
                e = _excess(
                    r,
                    need - nd0 + nd1,
                    hours - h0 + h1,
                    late - lt0 + lt1,
                    gaps - g0 + g1,
                    days - (h0 > 0) + (h1 > 0),
                    data,
                )
                key = e + np.random.random()
                if key < best_key:
                    best_key = key
                    best_v = v
        if best_v < 0 or best_key >= OVER:
            return -1
        n = _add(best_v, out, n, mark, stamp)
        if n < 0:
            return -1
        for d in range(S // H):
            busy = False
            for s in range(d * H, d * H + H):
                if row[s] == best_v:
                    busy = True
            if busy:
                h0, nd0, lt0, g0 = _day_need(r, row, -1, d, data)
                for s in range(d * H, d * H + H):
                    if row[s] == best_v:
                        row[s] = -1
                h1, nd1, lt1, g1 = _day_need(r, row, -1, d, data)
                need += nd1 - nd0
                hours += h1 - h0
                late += lt1 - lt0
                gaps += g1 - g0
                days += (h1 > 0) - (h0 > 0)
        ex = _excess(r, need, hours, late, gaps, days, data)
    return n


@_kernel
def _excess(r, need, hours, late, gaps, days, data):
    """How many more hours person r's days need (`_day_need`'s sums over the
    week: needs, hours, late beginnings, gaps; and the busy days) than r has
    left to place. A timetable can still complete r's days only when this is
    at most 0 (the last lessons fill the gaps); in a complete one it is 0
    exactly when r keeps the rules. The gaps over a week's limit count as a
    need of their own (the larger of the two: the same hours may fill both);
    each day short of the min days a week needs an hour, or the min hours of
    a busy day (other hours than the gaps': they are on empty days; with
    `P_EVERY` the empty days' need is counted already)."""
    if need >= OVER:
        return OVER
    p_rule = data[23]
    early = p_rule[r, P_EARLY]
    if early > 0 and late > early:
        need += late - early
    gapw = p_rule[r, P_GAPW]
    if gapw >= 0 and gaps - gapw > need:
        need = gaps - gapw
    mind = p_rule[r, P_MIND]
    if mind > days and not p_rule[r, P_EVERY]:
        need += (mind - days) * max(1, p_rule[r, P_MINH])
    return need - (p_rule[r, P_TOTAL] - hours)


@_kernel
def _day_need(r, row, skip, d, data):
    """Person r's day d, with `row` their slots' units (-1: free; unit
    `skip` counted as free): its hours, the hours it needs yet (its gaps
    with zero gaps, the empty hours before its first lesson beyond those
    allowed with early max beginnings, or what it lacks of the min hours
    when that is more; `OVER` when it has more than the max hours, or more
    in a row than the max in a row: a break or a free hour ends a run; an
    empty day needs the min hours when `P_EVERY`), 1 when
    it begins at the second hour with early max beginnings above 0, and its
    gaps. Gaps beyond a day's limit must be filled (zero gaps: every one)."""
    H, p_rule, p_cnt = data[0], data[23], data[24]
    h = 0
    first = -1
    last = -1
    busy = 0
    ci = 0
    for s in range(d * H, d * H + H):
        b = row[s] >= 0 and row[s] != skip
        if b:
            h += 1
        if p_cnt[r, s]:
            if b:
                if first < 0:
                    first = ci
                last = ci
                busy += 1
            ci += 1
    if h == 0:
        # an empty day needs the min hours too when they hold for every day
        return 0, p_rule[r, P_MINH] if p_rule[r, P_EVERY] else 0, 0, 0
    g = last - first + 1 - busy if first >= 0 else 0
    if h > p_rule[r, P_MAXH]:
        return h, OVER, 0, g
    cont = p_rule[r, P_CONT]
    if h > cont:  # a run too long is possible: a second look, only then
        run = 0
        for s in range(d * H, d * H + H):
            if row[s] >= 0 and row[s] != skip:
                run += 1
                if run > cont:
                    return h, OVER, 0, g
            else:
                run = 0
    nd = 0
    late = 0
    if p_rule[r, P_GAPD] >= 0 and g > p_rule[r, P_GAPD]:
        nd = g - p_rule[r, P_GAPD]
    early = p_rule[r, P_EARLY]
    if early >= 0 and first >= 1:
        if early == 0:
            nd += first
        else:
            nd += first - 1
            late = 1
    if h + nd < p_rule[r, P_MINH]:
        nd = p_rule[r, P_MINH] - h
    return h, nd, late, g


@_kernel
def _buildings(r, a, u, ta, data, state, out, n, mark, stamp):
    """Person r's building rules with lesson a (of unit u) at ta and the
    marked units gone, as the checker walks a day (free hours, breaks and
    lessons without a building count as free): the nearest lesson in a
    building on either side of a, if in another building with fewer than
    `r_bgap[r]` free hours between, leaves, and so on outwards; then, while
    the day has more than `r_bmax[r]` changes, the lesson whose leaving
    takes the most away leaves (ties at random). The new count, or -1."""
    H, a_unit, a_dur = data[0], data[5], data[6]
    a_bld, r_bgap, r_bmax = data[35], data[36], data[37]
    occ = state[0]
    b = a_bld[a]
    d = ta // H
    end = ta + a_dur[a]
    g = r_bgap[r]
    if g > 0:
        for side in range(2):
            free = 0
            s = ta - 1 if side == 0 else end
            while d * H <= s < d * H + H:
                o = occ[r, s]
                if o < 0 or a_unit[o] == u or mark[a_unit[o]] == stamp or a_bld[o] < 0:
                    free += 1
                elif a_bld[o] != b and free < g:
                    n = _add(a_unit[o], out, n, mark, stamp)
                    if n < 0:
                        return -1
                    free += 1  # it leaves: its hours are free
                else:
                    break
                s += -1 if side == 0 else 1
    most = r_bmax[r]
    if most >= UNCAPPED:
        return n
    while True:
        here = _changes(r, a, u, ta, -1, data, state, mark, stamp)
        if here <= most:
            return n
        best_v = -1
        best_key = 1e18
        for s in range(d * H, d * H + H):
            o = occ[r, s]
            if o < 0 or a_unit[o] == u or mark[a_unit[o]] == stamp or a_bld[o] < 0:
                continue
            v = a_unit[o]
            key = _changes(r, a, u, ta, v, data, state, mark, stamp) + np.random.random()
            if key < best_key:
                best_key = key
                best_v = v
        if best_v < 0 or best_key >= here:
            return -1
        n = _add(best_v, out, n, mark, stamp)
        if n < 0:
            return -1


@_kernel
def _changes(r, a, u, ta, skip, data, state, mark, stamp):
    """The changes of building on person r's day of ta, with lesson a (of
    unit u) at ta, without the marked units and unit `skip`."""
    H, a_unit, a_dur, a_bld = data[0], data[5], data[6], data[35]
    occ = state[0]
    d = ta // H
    last = -1
    changes = 0
    for s in range(d * H, d * H + H):
        if ta <= s < ta + a_dur[a]:
            bs = a_bld[a]
        else:
            o = occ[r, s]
            bs = -1
            if o >= 0 and a_unit[o] != u and a_unit[o] != skip and mark[a_unit[o]] != stamp:
                bs = a_bld[o]
        if bs >= 0 and bs != last:
            if last >= 0:
                changes += 1
            last = bs
    return changes


@_kernel
def _selection(c, u, t0, data, state, out, n, mark, stamp, moved, cover):
    """Selection c ("these lessons occupy at most k of these slots") with
    unit u at t0 and the marked units gone: while its lessons occupy more
    than k of its slots, a unit of them leaves, the one freeing the most
    (ties at random). The new count, or -1. `cover` is scratch space: per
    slot, how many of the selection's lessons cover it."""
    u_mem_ptr, u_mem, a_unit, a_dur = data[1], data[2], data[5], data[6]
    a_at, plain = data[20], (data[22][u] & NOT_PLAIN) == 0
    om_ptr, om_mem, om_sel, om_k = data[25], data[26], data[27], data[28]
    start = state[1]
    S = cover.shape[0]
    for s in range(S):
        cover[s] = 0
    for q in range(om_ptr[c], om_ptr[c + 1]):
        b = om_mem[q]
        if start[b] < 0 or a_unit[b] == u or mark[a_unit[b]] == stamp:
            continue
        for s in range(start[b], start[b] + a_dur[b]):
            cover[s] += 1
    for i in range(u_mem_ptr[u], u_mem_ptr[u + 1]):
        a = u_mem[i]
        for q in range(om_ptr[c], om_ptr[c + 1]):
            if om_mem[q] == a:
                ta = t0 if plain else a_at[a, t0]
                for s in range(ta, ta + a_dur[a]):
                    cover[s] += 1
    used = 0
    for s in range(S):
        if om_sel[c, s] and cover[s] > 0:
            used += 1
    while used > om_k[c]:
        best_b = -1
        best_key = -1.0
        for q in range(om_ptr[c], om_ptr[c + 1]):
            b = om_mem[q]
            if start[b] < 0 or a_unit[b] == u or mark[a_unit[b]] == stamp or moved[a_unit[b]]:
                continue
            inside = 0
            freed = 0
            for s in range(start[b], start[b] + a_dur[b]):
                if om_sel[c, s]:
                    inside += 1
                    if cover[s] == 1:
                        freed += 1
            if inside == 0:
                continue
            key = freed + np.random.random()
            if key > best_key:
                best_key = key
                best_b = b
        if best_b < 0:
            return -1
        v = a_unit[best_b]
        n = _add(v, out, n, mark, stamp)
        if n < 0:
            return -1
        for q in range(om_ptr[c], om_ptr[c + 1]):
            b = om_mem[q]
            if a_unit[b] == v and start[b] >= 0:
                for s in range(start[b], start[b] + a_dur[b]):
                    cover[s] -= 1
                    if om_sel[c, s] and cover[s] == 0:
                        used -= 1
    return n


@_kernel
def _max_days(r, u, d, lo, hi, maxd, data, state, out, n, mark, stamp):
    """Resource r busy on day d too, within hours lo…hi-1 (the whole day, or
    the interval of a max days in an interval): when that is more days than
    `maxd`, the units it has in those hours on its other day with the
    fewest of them that stay leave too (added to the n in `out`). The new
    count; -1 when no day can be emptied so."""
    H, a_unit, a_at = data[0], data[5], data[20]
    occ = state[0]
    busy = 0
    best_e = -1
    best_c = 1 << 30
    for e in range(a_at.shape[1] // H):
        c = 0
        for s in range(e * H + lo, e * H + hi):
            o = occ[r, s]
            if o >= 0 and a_unit[o] != u and mark[a_unit[o]] != stamp:
                c += 1
        if c > 0 or e == d:
            busy += 1
        if c > 0 and e != d and c < best_c:
            best_c = c
            best_e = e
    if busy <= maxd:
        return n
    if best_e < 0:
        return -1
    for s in range(best_e * H + lo, best_e * H + hi):
        o = occ[r, s]
        if o >= 0 and a_unit[o] != u:
            n = _add(a_unit[o], out, n, mark, stamp)
            if n < 0:
                return -1
    return n


@_kernel
def _broken(b, a, u, ks, md, data, state, mark, stamp):
    """Whether b already breaks `md_cap` pairs of soft min days `md` (closer
    than `ks` days) with lessons other than a that are not leaving in this
    placement (`mark`) nor being placed with unit u."""
    MH, a_unit, md_ptr, md_mem, md_cap = data[31], data[5], data[13], data[14], data[19]
    start = state[1]
    db = start[b] // MH
    n = 0
    for q in range(md_ptr[md], md_ptr[md + 1]):
        c = md_mem[q]
        if c == a or c == b or start[c] < 0 or a_unit[c] == u or mark[a_unit[c]] == stamp:
            continue
        if abs(start[c] // MH - db) < ks:
            n += 1
    return n >= md_cap[md]


@_kernel
def _add(v, out, n, mark, stamp):
    """Unit v added to the n units in `out` (once: `mark`); the new count,
    -1 when that is more than EVICT_CAP."""
    if mark[v] == stamp:
        return n
    if n >= EVICT_CAP:
        return -1
    mark[v] = stamp
    out[n] = v
    return n + 1


@_kernel
def _soft_cost(u, t, data, state):
    """How far unit u at t falls short of its soft min days: per placed
    partner of another unit closer than `md_soft` days, the days missing."""
    MH, u_mem_ptr, u_mem = data[31], data[1], data[2]
    a_unit, a_md_ptr, a_md, md_ptr, md_mem, md_soft = (
        data[5],
        data[11],
        data[12],
        data[13],
        data[14],
        data[17],
    )
    start = state[1]
    a_at, plain = data[20], (data[22][u] & NOT_PLAIN) == 0
    c = 0
    for i in range(u_mem_ptr[u], u_mem_ptr[u + 1]):
        a = u_mem[i]
        d = (t if plain else a_at[a, t]) // MH
        for j in range(a_md_ptr[a], a_md_ptr[a + 1]):
            md = a_md[j]
            k = md_soft[md]
            if k == 0:
                continue
            for q in range(md_ptr[md], md_ptr[md + 1]):
                b = md_mem[q]
                if b == a or start[b] < 0 or a_unit[b] == u:
                    continue
                gap = abs(start[b] // MH - d)
                if gap < k:
                    c += k - gap
    return c


@_kernel
def _put(u, t, rooms, off, data, state):
    """Place unit u at t (its slots must be free), member k in room
    `rooms[off + k]` (-1: none chosen)."""
    u_mem_ptr, u_mem, a_dur, a_res_ptr, a_res = data[1], data[2], data[6], data[7], data[8]
    a_at, plain = data[20], (data[22][u] & NOT_PLAIN) == 0
    occ, start, room = state
    k = 0
    t0 = t
    for i in range(u_mem_ptr[u], u_mem_ptr[u + 1]):
        a = u_mem[i]
        dur = a_dur[a]
        t = t0 if plain else a_at[a, t0]
        start[a] = t
        for j in range(a_res_ptr[a], a_res_ptr[a + 1]):
            for s in range(t, t + dur):
                occ[a_res[j], s] = a
        r = rooms[off + k]
        room[a] = r
        if r >= 0:
            for s in range(t, t + dur):
                occ[r, s] = a
        k += 1


@_kernel
def _take_off(v, data, state):
    u_mem_ptr, u_mem, a_dur, a_res_ptr, a_res = data[1], data[2], data[6], data[7], data[8]
    occ, start, room = state
    for i in range(u_mem_ptr[v], u_mem_ptr[v + 1]):
        a = u_mem[i]
        dur = a_dur[a]
        t = start[a]
        for j in range(a_res_ptr[a], a_res_ptr[a + 1]):
            for s in range(t, t + dur):
                occ[a_res[j], s] = -1
        if room[a] >= 0:
            for s in range(t, t + dur):
                occ[room[a], s] = -1
        room[a] = -1
        start[a] = -1


def _work(data: tuple[Any, ...], call_limit: int) -> tuple[Any, ...]:
    """One attempt's scratch space: the undo log (unit moves, and the rooms
    of the evicted), marks, the units moved in the attempt, and per level
    and start the units to evict, their number, the rooms chosen, the order
    keys and the order the starts are looked at in. The log has
    room for every move an attempt can keep at once: a call places one unit
    and evicts at most EVICT_CAP, and an attempt stops calling after
    `call_limit` calls (the deepest chain may run past it by LEVELS), plus
    the forced placement; `_evict` and `_place_evicting` raise when it is
    full all the same. Plain numpy, called once a construction: compiled,
    it was a second function for every process to load from numba's cache
    (about 0.2 s of each solve's start-up)."""
    u_mem_ptr, u_st_ptr = data[1], data[3]
    nu = u_mem_ptr.shape[0] - 1
    maxst = max(1, int(np.diff(u_st_ptr).max(initial=0)))
    maxmem = max(1, int(np.diff(u_mem_ptr).max(initial=0)))
    rows = (call_limit + LEVELS + 2) * (EVICT_CAP + 1)
    return (
        np.zeros((rows, 4), np.int64),  # log: kind (0 placed, 1 evicted), unit, start, rooms at
        np.zeros(1, np.int64),  # its length
        np.zeros(rows * maxmem, np.int64),  # rooms of the evicted
        np.zeros(1, np.int64),  # its length
        np.zeros(nu, np.int64),  # mark
        np.zeros(1, np.int64),  # stamp counter
        np.zeros(nu, np.uint8),  # moved in this attempt (not to be evicted again)
        np.zeros((LEVELS + 1, maxst, EVICT_CAP), np.int64),  # units to evict
        np.zeros((LEVELS + 1, maxst), np.int64),  # their number
        -np.ones((LEVELS + 1, maxst, maxmem), np.int64),  # rooms chosen
        np.zeros((LEVELS + 1, maxst), np.float64),  # order keys
        np.zeros(1, np.int64),  # calls in this attempt
        np.zeros((LEVELS + 1, maxst), np.int64),  # the order the starts are looked at in
        np.zeros(LEVELS + 1, np.int64),  # st_u: each level's unit
        np.zeros(LEVELS + 1, np.int64),  # st_oi: the start it is at (in the order)
        np.zeros(LEVELS + 1, np.int64),  # st_q: the next evicted unit to place again
        np.zeros((LEVELS + 1, 2), np.int64),  # st_cp: the logs' lengths before that start
        np.zeros(data[20].shape[1], np.int64),  # a person's or selection's slots (`_day_rules`)
    )


@_kernel
def _evict(v, data, state, work):
    """Take unit v off the timetable, logging where it was (and its rooms)."""
    log, logn, rlog, rlogn = work[0], work[1], work[2], work[3]
    u_mem_ptr, u_mem = data[1], data[2]
    if logn[0] >= log.shape[0] or rlogn[0] + u_mem_ptr[v + 1] - u_mem_ptr[v] > rlog.shape[0]:
        raise RuntimeError("swap kernel: undo log full")
    log[logn[0], 0] = 1
    log[logn[0], 1] = v
    log[logn[0], 2] = state[1][u_mem[u_mem_ptr[v]]]
    log[logn[0], 3] = rlogn[0]
    logn[0] += 1
    for i in range(u_mem_ptr[v], u_mem_ptr[v + 1]):
        rlog[rlogn[0]] = state[2][u_mem[i]]
        rlogn[0] += 1
    _take_off(v, data, state)


@_kernel
def _place_evicting(u, t, conf, nconf, rooms, data, state, work):
    u_mem_ptr, u_mem = data[1], data[2]
    for i in range(nconf):
        if state[1][u_mem[u_mem_ptr[conf[i]]]] >= 0:
            _evict(conf[i], data, state, work)
    _put(u, t, rooms, 0, data, state)
    log, logn = work[0], work[1]
    if logn[0] >= log.shape[0]:
        raise RuntimeError("swap kernel: undo log full")
    log[logn[0], 0] = 0
    log[logn[0], 1] = u
    log[logn[0], 2] = t
    logn[0] += 1


@_kernel
def _rollback(cp, rcp, data, state, work):
    """Undo the log back to entry `cp` (the rooms' log back to `rcp`)."""
    log, logn, rlog, rlogn = work[0], work[1], work[2], work[3]
    while logn[0] > cp:
        logn[0] -= 1
        v = log[logn[0], 1]
        if log[logn[0], 0] == 0:
            _take_off(v, data, state)
        else:
            _put(v, log[logn[0], 2], rlog, log[logn[0], 3], data, state)
            work[6][v] = 0  # back where it was: no longer moved
    rlogn[0] = rcp


@_kernel
def _place_free(u, t, level, i, data, state, work):
    """Place unit u at t, the i-th of its starts looked at on `level`, which
    evicts nothing, in the rooms chosen there."""
    _place_evicting(u, t, work[7][level, i], 0, work[9][level, i], data, state, work)


#: `_swap`'s steps (it keeps its own stack of levels: numba's cache cannot
#: hold a recursive function, numba issue #6061)
_ENTER = 0  # look at the starts of the level's unit
_TRY = 1  # place it at its next start in order, evicting
_NEXT = 2  # place the next evicted unit one level deeper
_RETURN = 3  # the level is done, with `result`


@_kernel
def _swap(u0, data, state, work, call_limit, weight):
    """Place unit u0: at a random start that evicts nothing if there is one
    (one of those breaking the fewest soft min days); else, at the starts in
    order of the least `weight` evicted, evicting and placing the evicted in
    turn (one level deeper), undoing a start whose chain fails; from level
    `ONE_TRY_FROM` on, only the first start is tried. A unit moved in this
    attempt (and not moved back) is not evicted again. Depth first, as a
    recursion would go, with the levels' state in `work` (`st_*`)."""
    u_mem_ptr, u_mem, u_st_ptr, u_st = data[1], data[2], data[3], data[4]
    start = state[1]
    logn, rlogn, mark, stampc, moved = work[1], work[3], work[4], work[5], work[6]
    confbuf, confn, roombuf, keys, ncalls = work[7], work[8], work[9], work[10], work[11]
    order, st_u, st_oi, st_q, st_cp = work[12], work[13], work[14], work[15], work[16]
    level = 0
    st_u[0] = u0
    step = _ENTER
    result = False
    while True:
        u = st_u[level]
        lo = u_st_ptr[u]
        ns = u_st_ptr[u + 1] - lo
        if step == _ENTER:
            ncalls[0] += 1
            # the starts in a random order: the first that evicts nothing and
            # breaks no soft min day is taken at once, without looking at the rest
            perm = order[level]
            for i in range(ns):
                perm[i] = i
            for i in range(ns - 1):
                j = i + np.random.randint(ns - i)
                perm[i], perm[j] = perm[j], perm[i]
            nzero = 0
            least = 1 << 30
            ties = 0
            result = False
            step = _RETURN
            for k in range(ns):
                i = perm[k]
                stampc[0] += 1
                n = _conflicts(
                    u,
                    u_st[lo + i],
                    data,
                    state,
                    confbuf[level, i],
                    mark,
                    stampc[0],
                    roombuf[level, i],
                )
                if n >= 0 and data[22][u] & EXTRA:
                    n = _extra_rules(
                        u, u_st[lo + i], data, state, confbuf[level, i], n, mark, stampc[0]
                    )
                if n >= 0 and data[22][u] & DAY_RULES:
                    n = _day_rules(
                        u, u_st[lo + i], data, state, confbuf[level, i], n, mark, stampc[0],
                        moved, work[17],
                    )  # fmt: skip
                for q in range(max(n, 0)):
                    if moved[confbuf[level, i, q]]:
                        n = -1
                        break
                confn[level, i] = n
                if n == 0:
                    c = _soft_cost(u, u_st[lo + i], data, state)
                    if c == 0:
                        _place_free(u, u_st[lo + i], level, i, data, state, work)
                        result = True
                        break
                    confn[level, i] = -2 - c  # evicts nothing, breaks c soft min days
                    nzero += 1
                    if c < least:
                        least = c
                        ties = 0
                    if c == least:
                        ties += 1
            if result:
                continue
            if nzero > 0:
                pick = np.random.randint(ties)
                for i in range(ns):
                    if confn[level, i] == -2 - least:
                        if pick == 0:
                            _place_free(u, u_st[lo + i], level, i, data, state, work)
                            result = True
                            break
                        pick -= 1
                continue
            if level >= LEVELS - 1 or ncalls[0] > call_limit:
                continue
            for i in range(ns):
                n = confn[level, i]
                if n > 0:
                    w = 0.0
                    for q in range(n):
                        w += weight[confbuf[level, i, q]]
                    keys[level, i] = w + np.random.random()
                else:
                    keys[level, i] = 1e18
            order[level, :ns] = np.argsort(keys[level, :ns])
            st_oi[level] = 0
            step = _TRY
        elif step == _TRY:
            result = False
            step = _RETURN
            if st_oi[level] >= ns:
                continue
            i = order[level, st_oi[level]]
            n = confn[level, i]
            if n <= 0:
                continue
            st_cp[level, 0] = logn[0]
            st_cp[level, 1] = rlogn[0]
            _place_evicting(
                u, u_st[lo + i], confbuf[level, i], n, roombuf[level, i], data, state, work
            )
            for q in range(n):
                moved[confbuf[level, i, q]] = 1
            st_q[level] = 0
            step = _NEXT
        elif step == _NEXT:
            i = order[level, st_oi[level]]
            n = confn[level, i]
            q = st_q[level]
            while q < n and start[u_mem[u_mem_ptr[confbuf[level, i, q]]]] >= 0:
                q += 1
            if q == n:  # every unit this start evicted is placed again
                result = True
                step = _RETURN
                continue
            st_q[level] = q + 1
            level += 1
            st_u[level] = confbuf[level - 1, i, q]
            step = _ENTER
        else:  # _RETURN: the level's unit placed (result) or not
            if level == 0:
                return result
            level -= 1
            if result:
                step = _NEXT
                continue
            _rollback(st_cp[level, 0], st_cp[level, 1], data, state, work)
            if ncalls[0] > call_limit or level >= ONE_TRY_FROM:
                step = _RETURN  # result stays False
            else:
                st_oi[level] += 1
                step = _TRY


@_kernel
def run(
    steps, seed, it0, prio, data, state, work, tabu, tried, weight, call_limit, tenure, fet_order
):
    """`steps` steps from step number `it0`: each takes the first unplaced
    unit in `prio` and places it by `_swap`; when that fails, at the start
    chosen in FET's order with `fet_order` (the least tried of its units
    to evict, by `tried`: their earlier evictions from where they are; then
    their tries in all; then their `weight`), otherwise whose units weigh
    least with `TRIED_WEIGHT` per try, not one it was evicted from in the last
    `tenure` steps, evicting them, and moves ahead of them in `prio` (which
    is changed in place). Returns the units left unplaced and the next step
    number. The random stream is seeded from `seed` and `it0` at each
    call, so the same calls give the same steps: cut into calls of other
    sizes, a run takes other steps (Brazil-more-difficult, seed 1: 1,653
    steps in 200-step calls, 1,570 in calls sized by time). The solver
    always makes `SWAP_CHUNK`-step calls, so a seed gives the same steps on
    any machine."""
    np.random.seed(seed * 1000003 + it0)
    u_mem_ptr, u_mem, u_st_ptr, u_st = data[1], data[2], data[3], data[4]
    start = state[1]
    log, logn, rlogn, mark, stampc, moved = work[0], work[1], work[3], work[4], work[5], work[6]
    confbuf, confn, roombuf, ncalls = work[7], work[8], work[9], work[11]
    nu = u_mem_ptr.shape[0] - 1
    newp = np.empty(nu, np.int64)
    for step in range(steps):
        it = it0 + step
        u = -1
        pos = -1
        for p in range(nu):
            if start[u_mem[u_mem_ptr[prio[p]]]] < 0:
                u = prio[p]
                pos = p
                break
        if u < 0:
            return 0, it
        logn[0] = 0
        rlogn[0] = 0
        ncalls[0] = 0
        moved[u] = 1
        ok = _swap(u, data, state, work, call_limit, weight)
        for q in range(logn[0]):
            moved[log[q, 1]] = 0
        moved[u] = 0
        if ok:
            continue
        lo = u_st_ptr[u]
        ns = u_st_ptr[u + 1] - lo
        best = -1
        best_lo = best_sum = best_key = 0.0
        for i in range(ns):
            t = u_st[lo + i]
            if tabu[u, t] > it:
                continue
            stampc[0] += 1
            n = _conflicts(u, t, data, state, confbuf[0, i], mark, stampc[0], roombuf[0, i])
            if n >= 0 and data[22][u] & EXTRA:
                n = _extra_rules(u, t, data, state, confbuf[0, i], n, mark, stampc[0])
            if n >= 0 and data[22][u] & DAY_RULES:
                n = _day_rules(
                    u, t, data, state, confbuf[0, i], n, mark, stampc[0], moved, work[17]
                )
            confn[0, i] = n
            if n < 0:
                continue
            # FET's order of the starts (`fet_order`): the least tried of
            # the units to evict (its "tried removals" from where they
            # are), then their tries in all, then their weight; otherwise
            # their weight plus `TRIED_WEIGHT` a try; ties at random
            lo_t = 0.0 if n == 0 else 1e18
            sum_t = 0.0
            w = np.random.random()
            for q in range(n):
                v = confbuf[0, i, q]
                tv = tried[v, start[u_mem[u_mem_ptr[v]]]]
                lo_t = min(lo_t, tv)
                sum_t += tv
                w += weight[v]
            if not fet_order:
                w += TRIED_WEIGHT * sum_t
                lo_t = sum_t = 0.0
            if (
                best < 0
                or lo_t < best_lo
                or (lo_t == best_lo and (sum_t < best_sum or (sum_t == best_sum and w < best_key)))
            ):
                best_lo, best_sum, best_key = lo_t, sum_t, w
                best = i
        if best < 0:
            continue
        n = confn[0, best]
        stampc[0] += 1
        for q in range(n):
            v = confbuf[0, best, q]
            tv = start[u_mem[u_mem_ptr[v]]]
            tabu[v, tv] = it + tenure
            tried[v, tv] += 1.0
            mark[v] = stampc[0]
        # u goes before the units it evicts in the order: it is placed
        # before them from now on (the order learns which units are hard)
        k = 0
        for q in range(pos):
            if mark[prio[q]] != stampc[0]:
                newp[k] = prio[q]
                k += 1
        newp[k] = u
        k += 1
        for q in range(pos):
            if mark[prio[q]] == stampc[0]:
                newp[k] = prio[q]
                k += 1
        for q in range(pos + 1, nu):
            newp[k] = prio[q]
            k += 1
        prio[:] = newp
        _place_evicting(
            u, u_st[lo + best], confbuf[0, best], n, roombuf[0, best], data, state, work
        )
    left = 0
    for u in range(nu):
        if start[u_mem[u_mem_ptr[u]]] < 0:
            left += 1
    return left, it0 + steps
