import pytest
from modxfer.composition import Composition
from modxfer.errors import ConfigError, UnknownTaskError


@pytest.mark.parametrize("text,kind,inters", [
    ("xnli", "target", ()),
    ("mnli>xnli", "stack", ("mnli",)),
    ("mnli>qqp>xnli", "stack", ("mnli", "qqp")),
    ("fuse(mnli,qqp,siqa)>xnli", "fusion", ("mnli", "qqp", "siqa")),
    ("full:mnli>xnli", "full", ("mnli",)),
    ("full:xnli", "full", ()),
])
def test_parse_and_print_back_identically(text, kind, inters):
    comp = Composition.parse(text)
    assert (comp.kind, comp.intermediates, comp.target) == (kind, inters, "xnli")
    assert str(comp) == text and Composition.parse(str(comp)) == comp


def test_spacing_and_case_normalise():
    assert str(Composition.parse(" Fuse( mnli , qqp ) > XNLI ")) == "fuse(mnli,qqp)>xnli"


def test_to_adapters_builds_the_composition_block():
    from adapters.composition import Fuse, Stack

    assert Composition.parse("mnli>xnli").to_adapters({"mnli": "m1"}, target="x1") == Stack("m1", "x1")
    setup = Composition.parse("fuse(mnli,qqp)>xnli").to_adapters(target="x")
    assert isinstance(setup, Stack) and setup.children[0] == Fuse("mnli", "qqp") and setup.children[1] == "x"
    assert Composition.parse("xnli").to_adapters(target="x") == "x"
    assert Composition.parse("mnli>tatoeba").to_adapters() == "mnli"
    assert Composition.parse("tatoeba").to_adapters() is None
    assert Composition.parse("full:mnli>xnli").to_adapters() is None


@pytest.mark.parametrize("bad,msg", [
    ("", "empty composition"),
    ("mnli>", "empty part"),
    ("fuse(mnli)>xnli", "bad part"),
    ("full:fuse(mnli,qqp)>xnli", "full fine-tuning has no fusion"),
    ("full:mnli>qqp>xnli", "at most one intermediate"),
    ("xnli>xnli", "uses a task twice"),
    ("fuse(mnli,mnli)>xnli", "fuses the same adapter twice"),
])
def test_bad_notation_names_the_problem(bad, msg):
    with pytest.raises(ConfigError, match=msg) as e:
        Composition.parse(bad)
    assert "fuse(A,B" in e.value.fix or "once" in e.value.fix or "full:INTER>TARGET" in e.value.fix


def test_validate_checks_tasks_and_roles():
    with pytest.raises(UnknownTaskError, match="unknown task 'mnlii'"):
        Composition.parse("mnlii>xnli").validate()
    with pytest.raises(ConfigError, match="'tatoeba' has no training data"):
        Composition.parse("tatoeba>xnli").validate()



@pytest.mark.parametrize("text, target, inters, kind, msg", [
    ("xnli>xnli", "xnli", ("xnli",), "stack", "xnli>xnli uses 'xnli' as an intermediate of itself"),
    ("mnli>mnli>xnli", "xnli", ("mnli", "mnli"), "stack", "mnli>mnli>xnli uses a task twice"),
    ("fuse(mnli,mnli)>xnli", "xnli", ("mnli", "mnli"), "fusion", r"fuse\(mnli,mnli\)>xnli fuses the same adapter"),
    ("fuse(mnli,xnli)>xnli", "xnli", ("mnli", "xnli"), "fusion", "as an intermediate of itself"),
    ("full:xnli>xnli", "xnli", ("xnli",), "full", "full:xnli>xnli uses 'xnli' as an intermediate of itself"),
])
def test_every_constructor_refuses_a_task_used_twice(text, target, inters, kind, msg):
    # train's --on, sweep expansion and cards build Composition directly, not through parse: one check serves all
    for build in (lambda: Composition(target, inters, kind), lambda: Composition.parse(text)):
        with pytest.raises(ConfigError, match=msg) as e:
            build()
        assert "once" in e.value.fix


def test_composition_for_refuses_before_any_work():
    from modxfer.training import composition_for

    with pytest.raises(ConfigError, match="intermediate of itself"):
        composition_for("xnli", ["xnli"])
    with pytest.raises(ConfigError, match="same adapter twice"):
        composition_for("xnli", ["mnli", "mnli"], fuse=True)
