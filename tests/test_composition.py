import pytest
from adapters.composition import Fuse, Stack

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


def test_active_setup_is_an_adapters_composition():
    assert Composition.parse("mnli>xnli").active_setup() == Stack("mnli", "xnli__on__mnli_xnli")
    setup = Composition.parse("fuse(mnli,qqp)>xnli").active_setup()
    assert isinstance(setup, Stack) and isinstance(setup.children[0], Fuse)
    assert Composition.parse("full:mnli>xnli").active_setup() is None


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
