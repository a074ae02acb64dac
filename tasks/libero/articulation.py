"""Privileged facts about LIBERO's articulated parts (drawers, doors, stove knobs) for scripted experts.

A BDDL predicate names an articulated part either as a region (``wooden_cabinet_1_top_region``, whose
``joints`` list names the drawer's slide joint) or as a fixture (``flat_stove_1``, ``microwave_1``, whose
own joints are used). LIBERO decides open / closed / on from the joint position with the owning fixture's
``is_open`` / ``is_close`` / ``turn_on`` methods; the states below call the same methods, so the expert's
notion of done is LIBERO's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SLIDE, HINGE = 2, 3  # MuJoCo joint types


def articulated_parts(inner: Any) -> dict[str, dict[str, Any]]:
    """name -> {joint, jid (its id), sign (+1: opening raises qpos), owner, type, body, geoms, ranges} for every
    region / fixture with a slide or hinge joint (static: computed once per scene).

    ``inner`` is LIBERO's problem env (``OffScreenRenderEnv.env``)."""
    model = inner.sim.model
    candidates: list[tuple[str, str, list[str]]] = []
    for name, site in inner.object_sites_dict.items():
        joints = list(getattr(site, "joints", None) or [])
        if joints:
            candidates.append((name, getattr(site, "parent_name", name), joints))
    for name, obj in {**inner.fixtures_dict, **inner.objects_dict}.items():
        props = getattr(obj, "object_properties", {}) or {}
        if props.get("articulation") and obj.joints:
            candidates.append((name, name, list(obj.joints)))
    parts = {}
    for name, owner, joints in candidates:
        joint = joints[0]
        jid = model.joint_name2id(joint)
        jtype = int(model.jnt_type[jid])
        if jtype not in (SLIDE, HINGE):
            continue
        body = int(model.jnt_bodyid[jid])
        geoms = [
            g
            for g in range(model.ngeom)
            if model.geom_bodyid[g] == body and (model.geom_contype[g] > 0 or model.geom_conaffinity[g] > 0)
        ]
        ranges = (inner.get_object(owner).object_properties or {}).get("articulation", {})
        parts[name] = {
            "joint": joint,
            "jid": jid,
            "sign": _opening_sign(ranges),
            "joints": joints,
            "owner": owner,
            "type": "slide" if jtype == SLIDE else "hinge",
            "body": body,
            "geoms": np.asarray(geoms, dtype=int),
            "ranges": {k: [float(x) for x in v] for k, v in ranges.items() if isinstance(v, (list, tuple))},
        }
    return parts


def _opening_sign(ranges: dict[str, list[float]]) -> float:
    """+1 when opening increases the joint position, -1 when it decreases it (0: unknown)."""
    open_r, close_r = ranges.get("default_open_ranges") or [], ranges.get("default_close_ranges") or []
    on_r, off_r = ranges.get("default_turnon_ranges") or [], ranges.get("default_turnoff_ranges") or []
    if open_r and close_r:
        return float(np.sign(np.mean(open_r) - np.mean(close_r)))
    if on_r and off_r:
        return float(np.sign(np.mean(on_r) - np.mean(off_r)))
    return 0.0


def articulation_states(inner: Any, parts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """name -> {qpos, axis [3], anchor [3], opening [3] (world direction the handle moves when opening; for
    a hinge the tangent at the handle), handle [3], lever [3] (unit, from the axis towards the highest moving
    geom), opening_sign (+1: opening / switching on raises qpos), geoms_min / geoms_max [3] (box around the
    moving geoms' centres), is_open, is_closed, is_on}."""
    model, data = inner.sim.model, inner.sim.data
    out = {}
    for name, part in parts.items():
        jid = part["jid"]
        qpos = float(data.qpos[model.jnt_qposadr[jid]])
        axis = np.array(data.xaxis[jid], dtype=np.float64)
        anchor = np.array(data.xanchor[jid], dtype=np.float64)
        pts = np.asarray(data.geom_xpos[part["geoms"]], dtype=np.float64).reshape(-1, 3)
        sign = part["sign"]
        if part["type"] == "slide":
            opening = axis * sign
            handle = pts[int(np.argmax(pts @ opening))] if len(pts) else anchor
        else:
            radial = pts - anchor - np.outer((pts - anchor) @ axis, axis)
            far = int(np.argmax(np.linalg.norm(radial, axis=1))) if len(pts) else 0
            handle = pts[far] if len(pts) else anchor
            opening = np.cross(axis * sign, radial[far]) if len(pts) else np.zeros(3)
            opening = opening / max(np.linalg.norm(opening), 1e-9)
        # lever: horizontal unit vector from the axis to the highest moving geom (a knob's raised ridge)
        top = pts[int(np.argmax(pts[:, 2]))] - anchor if len(pts) else np.zeros(3)
        lever = top - (top @ axis) * axis
        lever = lever / max(np.linalg.norm(lever), 1e-9)
        owner = inner.get_object(part["owner"])
        flags = {}
        for flag, method in (("is_open", "is_open"), ("is_closed", "is_close"), ("is_on", "turn_on")):
            fn = getattr(owner, method, None)
            try:
                flags[flag] = bool(fn(qpos)) if fn is not None else False
            except (NotImplementedError, KeyError, ValueError):
                flags[flag] = False
        out[name] = {
            "qpos": qpos,
            "type": part["type"],
            "axis": axis,
            "anchor": anchor,
            "opening": opening,
            "handle": np.array(handle, dtype=np.float64),
            "lever": lever,
            "opening_sign": sign,
            "geoms_min": pts.min(axis=0) if len(pts) else anchor,
            "geoms_max": pts.max(axis=0) if len(pts) else anchor,
            "ranges": part["ranges"],
            **flags,
        }
    return out
