"""A Python bench job: each item is pywork.work (about `rounds` passes of numpy arithmetic), written as npy."""
import longhaul
from pywork import work


def item(index, ctx):
    return {"x": work(index, ctx.params["rounds"])}


job = longhaul.define_job(
    name="pybusy",
    total=1000,
    item=item,
    params={"rounds": 100},
    output=longhaul.npy({"x": "float64"}),
)
