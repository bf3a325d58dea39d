"""PyTorch twin of bench/engine.ts: the same plain 3D U-Net and training step, driven over stdin.

Commands (one JSON object per line): {"cmd": "build", ...config} then {"cmd": "steps", "n": N};
each answers one JSON line. Step times are measured the same way as the TypeScript side.
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def block(dims, cin, cout, stride):
    conv = nn.Conv3d if dims == 3 else nn.Conv2d
    norm = nn.InstanceNorm3d if dims == 3 else nn.InstanceNorm2d
    return [conv(cin, cout, 3, stride=stride, padding=1), norm(cout, affine=True, eps=1e-5), nn.LeakyReLU(0.01)]


class UNet(nn.Module):
    def __init__(self, dims, cin, classes, features):
        super().__init__()
        conv_t = nn.ConvTranspose3d if dims == 3 else nn.ConvTranspose2d
        conv = nn.Conv3d if dims == 3 else nn.Conv2d
        self.enc = nn.ModuleList()
        for i, f in enumerate(features):
            prev = cin if i == 0 else features[i - 1]
            self.enc.append(nn.Sequential(*block(dims, prev, f, 1 if i == 0 else 2), *block(dims, f, f, 1)))
        self.up, self.dec = nn.ModuleList(), nn.ModuleList()
        for i in range(len(features) - 2, -1, -1):
            self.up.append(conv_t(features[i + 1], features[i], 2, stride=2))
            self.dec.append(nn.Sequential(*block(dims, 2 * features[i], features[i], 1), *block(dims, features[i], features[i], 1)))
        self.head = conv(features[0], classes, 1)

    def forward(self, x):
        skips = []
        for e in self.enc:
            x = e(x)
            skips.append(x)
        for k, (u, d) in enumerate(zip(self.up, self.dec)):
            x = d(torch.cat([u(x), skips[-2 - k]], 1))
        return self.head(x)


state = {}
for line in sys.stdin:
    req = json.loads(line)
    if req["cmd"] == "build":
        torch.set_num_threads(req["threads"])
        torch.manual_seed(0)
        device = torch.device(req["device"])
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        net = UNet(3, 1, req["classes"], req["features"]).to(device)
        opt = torch.optim.SGD(net.parameters(), lr=1e-2, momentum=0.99, nesterov=True, weight_decay=3e-5)
        s = req["size"]
        x = torch.randn(req["batch"], 1, s, s, s, device=device)
        y = torch.randint(0, req["classes"], (req["batch"], s, s, s), device=device)
        scaler = torch.cuda.amp.GradScaler() if req["amp"] else None
        state = dict(net=net, opt=opt, x=x, y=y, amp=req["amp"], scaler=scaler)
        print(json.dumps({"ok": True, "torch": torch.__version__, "params": sum(p.numel() for p in net.parameters())}), flush=True)
    elif req["cmd"] == "steps":
        net, opt, x, y = state["net"], state["opt"], state["x"], state["y"]
        times = []
        for _ in range(req["n"]):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.float16, enabled=state["amp"]):
                loss = F.cross_entropy(net(x), y)
            if state["scaler"]:
                state["scaler"].scale(loss).backward()
                state["scaler"].unscale_(opt)
                torch.nn.utils.clip_grad_norm_(net.parameters(), 12)
                state["scaler"].step(opt)
                state["scaler"].update()
            else:
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 12)
                opt.step()
            loss.item()
            times.append(time.perf_counter() - t0)
        print(json.dumps({"times": times}), flush=True)
