"""The patient as a radiologist sees them, checked on screenshots of an asymmetric phantom.

The phantom (``napari_cases.PARTS``): a plate on the anterior surface over the patient's RIGHT
half only, a central posterior bar, a marker above the head. Its mirror image is a different
body, so a picture tells a true view from a reflected one. It is written as a NIfTI scan and a
folder of NIfTI masks on five grids (axial, flipped storage, sagittal, coronal, oblique), made
into an archive by ``medmask.convert``, and opened with the MedMask reader as a user does.

3D: for many camera directions (given in patient LPS terms), where the parts land on a canvas
screenshot must match a physical camera: looking along ``v`` with ``u`` up, the viewer's right
is ``v x u``. From the front with superior up, the plate is on the viewer's left.
2D: the default axial, coronal and sagittal views read like a radiology viewer.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from napari_cases import PART_COLOURS as COLOURS
from napari_cases import PARTS, PHANTOM_CENTRE, PHANTOM_GRIDS, write_phantom_archive

L, P, S = np.eye(3)  # LPS unit vectors: left, posterior, superior
R, A, I = -L, -P, -S
FRONT = (P, S)  # (view direction, up): the camera in front of the patient, looking at them
VIEWS = {
    "front": FRONT, "back": (A, S), "from_the_right": (L, S), "from_the_left": (R, S),
    "from_the_feet": (S, A), "from_the_head": (I, A), "front_rolled": (P, L), "front_upside_down": (P, I),
    **{f"azimuth_{deg}": (np.cos(np.deg2rad(deg)) * P + np.sin(np.deg2rad(deg)) * L, S)
       for deg in (30, 60, 120, 210, 300)},
    "front_from_above": ((P + 0.6 * I) / np.linalg.norm(P + 0.6 * I), S),
    "front_from_below": ((P + 0.6 * S) / np.linalg.norm(P + 0.6 * S), S),
}


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    """{grid: (scan path, archive path)}: the phantom on every grid, archived like the CLI does."""
    folder = tmp_path_factory.mktemp("orientation")
    return {grid: write_phantom_archive(folder, grid) for grid in PHANTOM_GRIDS}


def _viewer(make_napari_viewer, phantoms, grid, *, dock: bool):
    viewer = make_napari_viewer(show=True)
    viewer.window.resize(820, 640)  # a canvas ~470 px square: small enough for software GL
    widget = None
    if dock:
        _, widget = viewer.window.add_plugin_dock_widget("medmask", "MedMask archive")
    scan, archive = phantoms[grid]
    viewer.open(str(archive), plugin="medmask")  # the reader also returns the scan the archive records
    assert len(viewer.layers) == 2, [l.name for l in viewer.layers]
    return viewer, widget


def _parts(shot: np.ndarray) -> dict[str, np.ndarray]:
    """Pixel (row, col) centroid of each part seen on an RGBA screenshot, by its pure colour."""
    rgb = shot[..., :3].astype(int)
    found = {}
    for name, colour in COLOURS.items():
        c = int(np.argmax(colour[:3]))
        others = [k for k in range(3) if k != c]
        hit = (rgb[..., c] > 60) & np.all(rgb[..., c, None] > 1.6 * rgb[..., others], axis=-1)
        if hit.sum() >= 30:
            found[name] = np.argwhere(hit).mean(axis=0)
    return found


def _centre(name) -> np.ndarray:
    return PHANTOM_CENTRE + np.array([(a + b) / 2 for a, b in PARTS[name]])


def _look(viewer, frame, view, up) -> None:
    """Camera along ``view`` with ``up`` up (both LPS), in the displayed dims' order."""
    displayed = list(viewer.dims.displayed)
    camera = viewer.scene.camera
    camera.set_view_direction(view_direction=tuple((frame.T @ view)[displayed]),
                              up_direction=tuple((frame.T @ up)[displayed]))


def _check_view(viewer, qtbot, frame, name, view, up) -> list[str]:
    """Where each pair of parts lands on screen, against a physical camera; returns the failures."""
    _look(viewer, frame, view, up)
    qtbot.wait(20)
    seen = _parts(viewer.screenshot(canvas_only=True, flash=False))
    right = np.cross(view, up)  # the viewer's right, in patient terms
    wrong = []
    for a in seen:
        for b in seen:
            if a >= b:
                continue
            delta = _centre(a) - _centre(b)
            expected = (delta @ right, -(delta @ up))  # screen columns grow rightwards, rows downwards
            got = (seen[a][1] - seen[b][1], seen[a][0] - seen[b][0])
            for axis, (e, g) in enumerate(zip(expected, got)):
                if abs(e) > 15.0 and np.sign(e) != np.sign(g):
                    wrong.append(f"{name}: {a} vs {b} {'horizontally' if axis == 0 else 'vertically'} "
                                 f"expected {e:+.0f} mm, got {g:+.0f} px")
    if name == "front":
        assert set(seen) == set(COLOURS), seen
    return wrong


@pytest.mark.slow
@pytest.mark.parametrize("grid", sorted(PHANTOM_GRIDS))
def test_3d_views_from_every_side_are_the_patient_not_a_mirror(grid, phantoms, make_napari_viewer, qtbot):
    """Reader only (no dock, napari's default camera): 15 camera directions, all anatomically true."""
    viewer, _ = _viewer(make_napari_viewer, phantoms, grid, dock=False)
    scan, organs = viewer.layers
    scan.visible = False  # the organs alone: nothing drawn over them
    frame = np.asarray(organs.metadata["medmask"]["frame"])
    viewer.dims.ndisplay = 3
    viewer.reset_view()
    wrong = []
    for name, (view, up) in VIEWS.items():
        wrong += _check_view(viewer, qtbot, frame, name, view, up)
    assert not wrong, "\n".join(wrong)
    # from the front, superior up: the plate over the patient's right half is on the viewer's left
    _look(viewer, frame, *FRONT)
    qtbot.wait(20)
    seen = _parts(viewer.screenshot(canvas_only=True, flash=False))
    assert seen["plate_anterior_right"][1] < seen["plate_posterior"][1] - 20
    assert seen["plate_anterior_right"][1] < seen["marker_superior"][1] - 20
    assert seen["marker_superior"][0] < seen["plate_anterior_right"][0] - 50


@pytest.mark.slow
@pytest.mark.parametrize("order", [(0, 2, 1), (2, 0, 1), (1, 2, 0), (1, 0, 2)], ids=["transposed", "rolled",
                                                                                   "rolled_twice", "coronal_order"])
def test_3d_view_stays_true_when_the_user_transposes_or_rolls_with_the_dock(order, phantoms, make_napari_viewer,
                                                                            qtbot):
    viewer, widget = _viewer(make_napari_viewer, phantoms, "oblique", dock=True)
    scan, organs = viewer.layers
    scan.visible = False
    frame = widget.frame
    viewer.dims.ndisplay = 3
    viewer.dims.order = order
    viewer.reset_view()
    wrong = []
    for name in ("front", "back", "from_the_right", "from_the_head", "azimuth_60"):
        wrong += _check_view(viewer, qtbot, frame, name, *VIEWS[name])
    assert not wrong, "\n".join(wrong)
    # the depth direction is the only thing the dock changed, and only for an odd axis order
    odd = order in ((0, 2, 1), (1, 0, 2))
    assert tuple(map(str, viewer.scene.camera.orientation)) == ("away" if odd else "towards", "down", "right")
    if odd:  # without it napari would draw the mirror image: the check above can tell
        widget.true_view.disconnect()
        viewer.scene.camera.orientation = ("towards", "down", "right")
        assert _check_view(viewer, qtbot, frame, "front", *FRONT)


def test_depth_follows_2d_axis_flips_but_a_depth_choice_is_kept(make_napari_viewer, phantoms):
    from napari_medmask.camera import mirrored

    viewer, widget = _viewer(make_napari_viewer, phantoms, "axial", dock=True)
    camera = viewer.scene.camera
    camera.orientation2d = ("down", "left")  # neurological axial: patient left on the screen's left
    assert str(camera.orientation[0]) == "away" and not mirrored(viewer.dims.order, camera.orientation)
    camera.orientation2d = ("down", "right")
    assert str(camera.orientation[0]) == "towards"
    camera.orientation = ("away", "down", "right")  # the user asks for a mirror on purpose
    assert mirrored(viewer.dims.order, camera.orientation)
    viewer.dims.order = (0, 2, 1)
    assert mirrored(viewer.dims.order, camera.orientation)  # ... and keeps it through a transpose
    viewer.reset_view()
    assert mirrored(viewer.dims.order, camera.orientation)


def _status(viewer, point) -> str:
    viewer.mouse_over_canvas = True
    viewer.cursor.position = tuple(float(v) for v in point)
    viewer.update_status_from_cursor()
    status = viewer.status
    return status["coordinates"] if isinstance(status, dict) else str(status)


# (dims order, LPS point the slider goes through, part, body side it must be on, part, side): a
# side is (screen axis: 0 rows / 1 columns, sign of the offset from the body's centre on screen)
PLANES = {
    # axial through the plates: anterior up, the patient's right on the screen's left
    "axial": ((0, 1, 2), (0.0, 0.0, -5.0), "plate_anterior_right", [(0, -1), (1, -1)], "plate_posterior", [(0, 1)]),
    # coronal through the anterior plate, then through the marker: right on the left, superior up
    "coronal": ((1, 0, 2), (0.0, -37.0, 0.0), "plate_anterior_right", [(1, -1)], None, []),
    "coronal_marker": ((1, 0, 2), (0.0, 0.0, 0.0), "marker_superior", [(0, -1)], None, []),
    # sagittal through the midline: superior up, anterior on the left (posterior bar on the right)
    "sagittal": ((2, 0, 1), (0.0, 0.0, 0.0), "marker_superior", [(0, -1)], "plate_posterior", [(1, 1)]),
}


@pytest.mark.slow
@pytest.mark.parametrize("dock", [False, True], ids=["reader_only", "with_dock"])
@pytest.mark.parametrize("grid", sorted(PHANTOM_GRIDS))
def test_2d_planes_read_like_a_radiology_viewer(grid, dock, phantoms, make_napari_viewer, qtbot):
    viewer, widget = _viewer(make_napari_viewer, phantoms, grid, dock=dock)
    frame = np.asarray(viewer.layers[-1].metadata["medmask"]["frame"])
    for plane, (order, rel, part, sides, part2, sides2) in PLANES.items():
        viewer.dims.order = order
        viewer.reset_view()
        point = frame.T @ (PHANTOM_CENTRE + np.asarray(rel))
        viewer.dims.set_point(order[0], point[order[0]])
        qtbot.wait(20)
        shot = viewer.screenshot(canvas_only=True, flash=False)
        body = np.argwhere(shot[..., :3].max(axis=-1) > 30)
        centre = (body.min(axis=0) + body.max(axis=0)) / 2
        seen = _parts(shot)
        for name, want in ((part, sides), (part2, sides2)):
            for axis, sign in want:
                assert name in seen, (plane, seen)
                offset = seen[name][axis] - centre[axis]
                assert np.sign(offset) == sign and abs(offset) > 10, (grid, plane, name, axis, offset)
    if dock:  # the status bar: the patient point under the cursor, exactly, and the organ there
        centre = _centre("plate_anterior_right")
        viewer.dims.order = (0, 1, 2)
        text = _status(viewer, frame.T @ centre)
        m = re.search(r"LPS \(([-\d.]+), ([-\d.]+), ([-\d.]+)\) mm", text)
        assert m, text
        np.testing.assert_allclose([float(v) for v in m.groups()], centre, atol=0.051)
        assert text.endswith(": plate_anterior_right"), text


@pytest.mark.parametrize("grid", ["axial", "flipped", "sagittal", "coronal"])
def test_labels_made_over_a_scan_by_napari_save_where_they_were_painted(grid, phantoms, make_napari_viewer,
                                                                        tmp_path):
    """napari's "new labels" copies the scan layer's shape, scale and translate, no metadata: the
    plain layer is read in the same (I, P, L) frame, so its voxels are saved at the scan's points."""
    import nibabel as nib

    from medmask import load_mask
    from medmask.core.geometry import index_to_world_affine

    scan_path, _ = phantoms[grid]
    viewer = make_napari_viewer()
    (scan,) = viewer.open(str(scan_path), plugin="medmask")
    painted = (np.asarray(scan.data) == 300).astype(np.uint8)  # what a user paints over the bright parts
    layer = viewer.add_labels(painted, scale=scan.scale, translate=scan.translate, name="painted")
    out = tmp_path / "painted.msk"
    viewer.layers.selection = {layer}
    viewer.layers.save(str(out), selected=True, plugin="medmask")
    saved = load_mask(out)
    got = (index_to_world_affine(saved.space) @ np.c_[np.argwhere(saved.data), np.ones(int(saved.data.sum()))].T)[:3].T
    img = nib.load(str(scan_path))
    ras = nib.affines.apply_affine(img.affine, np.argwhere(np.asarray(img.dataobj) == 300))
    want = ras * [-1.0, -1.0, 1.0]  # nibabel's RAS -> LPS
    assert len(got) == len(want) > 0
    np.testing.assert_allclose(np.unique(got.round(4), axis=0), np.unique(want.round(4), axis=0), atol=1e-3)
