"""``<stem>_trackmate.xml``: a tracked time-lapse as a TrackMate model, so that Fiji users open the
tracks in TrackMate (Plugins > Tracking > Load a TrackMate file) over their movie.

The file holds what TrackMate's own XML holds for a manual session: every migrasome as a spot
(position and radius in µm, time in minutes or frames), every link between a track's consecutive
detections as an edge, and the image it belongs to. Detector and tracker are declared as
TrackMate's manual ones, since the spots and links were made by migraseg. Positions are the
image's own (not drift-corrected), so spots sit on the migrasomes they outline.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from migraseg.tracking.tracks import roi_name
from migraseg.utils.files import atomic_path

TRACKMATE_VERSION = "7.11.1"  # the XML layout this file follows
SPOT_FEATURES = {  # feature: (name, dimension, isint)
    "QUALITY": ("Quality", "QUALITY", "false"),
    "POSITION_X": ("X", "POSITION", "false"),
    "POSITION_Y": ("Y", "POSITION", "false"),
    "POSITION_Z": ("Z", "POSITION", "false"),
    "POSITION_T": ("T", "TIME", "false"),
    "FRAME": ("Frame", "NONE", "true"),
    "RADIUS": ("Radius", "LENGTH", "false"),
    "VISIBILITY": ("Visibility", "NONE", "true"),
}
EDGE_FEATURES = {
    "SPOT_SOURCE_ID": ("Source spot ID", "NONE", "true"),
    "SPOT_TARGET_ID": ("Target spot ID", "NONE", "true"),
    "LINK_COST": ("Edge cost", "COST", "false"),
}
TRACK_FEATURES = {
    "TRACK_ID": ("Track ID", "NONE", "true"),
    "NUMBER_SPOTS": ("Number of spots in track", "NONE", "true"),
    "TRACK_START": ("Track start", "TIME", "false"),
    "TRACK_STOP": ("Track stop", "TIME", "false"),
    "TRACK_DURATION": ("Track duration", "TIME", "false"),
}


@dataclass(frozen=True)
class TrackedImage:
    """The movie the tracks belong to, as TrackMate's ImageData records it."""

    path: Path
    width: int
    height: int
    n_frames: int
    n_slices: int
    pixel_size_um: float
    interval: float  # minutes between frames, or 1 when time is in frames


def _declare(parent: ET.Element, tag: str, features: dict[str, tuple[str, str, str]]) -> None:
    group = ET.SubElement(parent, tag)
    for key, (name, dimension, isint) in features.items():
        ET.SubElement(
            group, "Feature", feature=key, name=name, shortname=name, dimension=dimension,
            isint=isint,
        )  # fmt: skip


def trackmate_tree(detections: pd.DataFrame, image: TrackedImage, time_unit: str) -> ET.Element:
    """The TrackMate XML of a stack's detections (:class:`~migraseg.tracking.stack.StackTracks`)."""
    root = ET.Element("TrackMate", version=TRACKMATE_VERSION)
    model = ET.SubElement(root, "Model", spatialunits="µm", timeunits=time_unit)
    declarations = ET.SubElement(model, "FeatureDeclarations")
    _declare(declarations, "SpotFeatures", SPOT_FEATURES)
    _declare(declarations, "EdgeFeatures", EDGE_FEATURES)
    _declare(declarations, "TrackFeatures", TRACK_FEATURES)
    spots = detections.reset_index(drop=True)
    size = image.pixel_size_um
    all_spots = ET.SubElement(model, "AllSpots", nspots=str(len(spots)))
    for frame, in_frame in spots.groupby("frame"):
        group = ET.SubElement(all_spots, "SpotsInFrame", frame=str(int(frame)))
        for spot_id, spot in in_frame.iterrows():
            ET.SubElement(
                group, "Spot", ID=str(spot_id), name=roi_name(spot["track_id"], int(frame)),
                QUALITY="1.0", POSITION_X=f"{spot['x_px'] * size:.4f}",
                POSITION_Y=f"{spot['y_px'] * size:.4f}",
                POSITION_Z="0.0" if pd.isna(spot["z"]) else str(float(spot["z"])),
                POSITION_T=f"{spot['time_min']:.4f}", FRAME=str(int(frame)),
                RADIUS=f"{spot['diameter_um'] / 2:.4f}", VISIBILITY="1",
            )  # fmt: skip
    all_tracks = ET.SubElement(model, "AllTracks")
    kept = []
    for track_id, track in spots[spots["track_id"] > 0].sort_values("frame").groupby("track_id"):
        if len(track) < 2:  # TrackMate's tracks are made of links: a lone spot stays a spot
            continue
        times = track["time_min"]
        element = ET.SubElement(
            all_tracks, "Track", name=f"Track_{track_id}", TRACK_ID=str(track_id),
            NUMBER_SPOTS=str(len(track)), TRACK_START=f"{times.min():.4f}",
            TRACK_STOP=f"{times.max():.4f}", TRACK_DURATION=f"{times.max() - times.min():.4f}",
        )  # fmt: skip
        for source, target in zip(track.index[:-1], track.index[1:], strict=True):
            ET.SubElement(
                element, "Edge", SPOT_SOURCE_ID=str(source), SPOT_TARGET_ID=str(target),
                LINK_COST="0.0",
            )  # fmt: skip
        kept.append(track_id)
    filtered = ET.SubElement(model, "FilteredTracks")
    for track_id in kept:
        ET.SubElement(filtered, "TrackID", TRACK_ID=str(track_id))
    _settings(root, image)
    return root


def _settings(root: ET.Element, image: TrackedImage) -> None:
    settings = ET.SubElement(root, "Settings")
    ET.SubElement(
        settings, "ImageData", filename=image.path.name, folder=str(image.path.parent),
        width=str(image.width), height=str(image.height), nslices=str(image.n_slices),
        nframes=str(image.n_frames), pixelwidth=str(image.pixel_size_um),
        pixelheight=str(image.pixel_size_um), voxeldepth="1.0", timeinterval=str(image.interval),
    )  # fmt: skip
    ET.SubElement(
        settings, "BasicSettings", xstart="0", xend=str(image.width - 1), ystart="0",
        yend=str(image.height - 1), zstart="0", zend=str(image.n_slices - 1), tstart="0",
        tend=str(image.n_frames - 1),
    )  # fmt: skip
    ET.SubElement(settings, "DetectorSettings", DETECTOR_NAME="MANUAL_DETECTOR")
    ET.SubElement(settings, "TrackerSettings", TRACKER_NAME="MANUAL_TRACKER")


def write_trackmate(
    path: Path, detections: pd.DataFrame, image: TrackedImage, time_unit: str
) -> Path:
    """Write ``<stem>_trackmate.xml`` atomically."""
    tree = ET.ElementTree(trackmate_tree(detections, image, time_unit))
    ET.indent(tree)
    with atomic_path(path) as tmp:
        tree.write(tmp, encoding="UTF-8", xml_declaration=True)
    return path
