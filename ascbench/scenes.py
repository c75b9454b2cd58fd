"""The fixed vocabulary of DCASE Task 1: scene labels and recording devices."""

#: The ten scene labels in alphabetical order; index = class index = output CSV column order.
SCENES: tuple[str, ...] = (
    "airport",
    "bus",
    "metro",
    "metro_station",
    "park",
    "public_square",
    "shopping_mall",
    "street_pedestrian",
    "street_traffic",
    "tram",
)

#: Devices of the TAU Urban Acoustic Scenes 2020/2022 Mobile development sets.
DEVICES: tuple[str, ...] = ("a", "b", "c", "s1", "s2", "s3", "s4", "s5", "s6")

#: The device groups used by the DCASE baselines and CP-JKU.
DEVICE_GROUPS: dict[str, tuple[str, ...]] = {
    "real": ("a", "b", "c"),
    "seen": ("s1", "s2", "s3"),
    "unseen": ("s4", "s5", "s6"),
}
