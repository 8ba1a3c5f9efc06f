"""The mesh's router numbering and routes, residual adds next to their producers, and outputs
relayed inside destination routers."""

import numpy as np

import xbarsim
from xbarsim.hardware.network import Mesh
from xbarsim.mapping import map_network
from xbarsim.timing.stream import build_stream
from xbarsim.workload import load_workload


def test_tiles_numbered_along_the_stripe_snake_sit_on_neighbouring_routers():
    arch = xbarsim.load_arch("isaac")  # 168 tiles, 4 per router: 42 routers on a 7 x 6 grid
    mesh = Mesh(arch)
    routers = [mesh.router(4 * r) for r in range(42)]
    assert len(set(routers)) == 42
    assert all(0 <= x < 7 and 0 <= y < 6 for x, y in routers)
    # stripes of ceil(sqrt(6)) = 3 rows: down a column, up the next, then back along the next stripe
    assert routers[:7] == [(0, 0), (0, 1), (0, 2), (1, 2), (1, 1), (1, 0), (2, 0)]
    assert routers[18:24] == [(6, 0), (6, 1), (6, 2), (6, 3), (6, 4), (6, 5)]
    for (x0, y0), (x1, y1) in zip(routers, routers[1:]):
        assert abs(x0 - x1) + abs(y0 - y1) == 1  # consecutive routers are neighbours
    for t in range(4):
        assert mesh.router(t) == (0, 0)
    for tiles in (1, 2, 5, 12, 37, 64, 400):  # every grid: distinct routers inside it, neighbours in turn
        mesh = Mesh(xbarsim.load_arch({"version": 1, "base": "isaac", "chip": {"tiles": tiles}}))
        routers = [mesh.router(4 * r) for r in range(-(-tiles // 4))]
        assert len(set(routers)) == len(routers)
        assert all(0 <= x < mesh.width and 0 <= y < mesh.height for x, y in routers)
        for a, b in zip(routers, routers[1:]):  # neighbours, but where the snake enters the next stripe
            step = abs(a[0] - b[0]) + abs(a[1] - b[1])
            assert step == 1 or (a[1] // mesh.stripe != b[1] // mesh.stripe and step <= mesh.stripe)


def test_routes_are_xy_and_minimal():
    mesh = Mesh(xbarsim.load_arch("isaac"))
    for a, b in [(0, 167), (50, 3), (100, 101), (23, 140)]:
        (x0, y0), (x1, y1) = mesh.router(a), mesh.router(b)
        links = mesh.route(a, b)
        assert len(links) == abs(x0 - x1) + abs(y0 - y1) == mesh.distance(a, [b])
        at = x0 + y0 * mesh.width
        for src, dst in links:  # a connected walk from a's router to b's
            assert src == at
            at = dst
        assert at == x1 + y1 * mesh.width


def test_outputs_cross_the_mesh_once_per_destination_router():
    arch = xbarsim.load_arch("isaac")
    stream = build_stream(map_network(arch, load_workload("resnet18"), "pipeline"), 1)
    mesh = Mesh(arch)
    pushes = np.flatnonzero(stream.kind_mask("transfer") & (stream.op_region >= 0))
    dst_tile = stream.regions["tile"][stream.op_region[pushes]]
    src_tile = stream.step_tile[stream.op_step[pushes]]
    crossing = stream.op_aux[pushes] > 1  # routers entered: more than one means links crossed
    relayed = 0
    for step in np.unique(stream.op_step[pushes]):
        mine = stream.op_step[pushes] == step
        routers = [mesh.router(int(t)) for t in dst_tile[mine & crossing]]
        assert len(routers) == len(set(routers)), f"{stream.step_label(int(step))} crosses links twice to a router"
        for o, t in zip(pushes[mine & ~crossing], dst_tile[mine & ~crossing]):
            sender = stream.res[stream.res_ptr[o]]  # its out-port: the tile it leaves from
            relayed += int(stream.resources["tile"][sender] != src_tile[np.flatnonzero(pushes == o)[0]])
            assert mesh.router(int(stream.resources["tile"][sender])) == mesh.router(int(t))
    assert relayed > 0  # ResNet-18's 3x3 convolutions read each row on several tiles of a router


def test_residual_adds_run_on_the_routers_of_their_producers():
    # ResNet-18's adds fit beside their producers' working sets on isaac: they stay there instead
    # of spreading to the least loaded tiles of the chip (layer1's tiles for layer2.0.add)
    arch = xbarsim.load_arch("isaac")
    network = load_workload("resnet18")
    stream = build_stream(map_network(arch, network, "pipeline"), 1)
    mesh = Mesh(arch)
    for index, layer in enumerate(network.layers):
        if layer.type != "add":
            continue
        producers = set()
        for source in layer.inputs:
            producers |= set(stream.step_tile[(stream.step_layer == source) & (stream.step_kind == 0)].tolist())
        tiles = np.unique(stream.step_tile[(stream.step_layer == index) & (stream.step_kind == 0)])
        assert max(mesh.distance(int(t), producers) for t in tiles) == 0, layer.name
