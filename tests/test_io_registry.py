"""One registry of formats: every format found through it, one packed-file test, a new format needs only its entry."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits

import stellar_relevance.io.registry as registry
from stellar_relevance.exceptions import DataError
from stellar_relevance.io import pack_spectra, read_spectra, write_packed
from stellar_relevance.io.dispatch import input_kind
from stellar_relevance.io.records import Format, Record, arm_from_arrays
from stellar_relevance.spectra import SpectralSet

SHARED = Path(os.environ.get("STELREL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SURVEYS = SHARED / "surveys"
REAL = {
    "spec-58397-EG014118N254444M01_sp03-031.fits": ("LAMOST-LRS", "LAMOST-LRS", "survey"),
    "spec-57287-KP193637N444141V03_sp10-161.fits.gz": ("LAMOST-LRS", "LAMOST-LRS", "survey"),
    "med-58408-TD230151N343645T01_sp01-015.fits": ("LAMOST-MRS", "LAMOST-MRS", "survey"),
    "spec-0266-51602-0031.fits": ("specutils", "SDSS-III/IV spec", "survey"),
    "XP_CONTINUOUS_RAW.csv": ("Gaia-XP", "Gaia-XP", "survey"),
    "XP_CONTINUOUS_RAW.fits": ("Gaia-XP", "Gaia-XP", "survey"),
}


def test_every_format_is_in_the_registry_in_priority_order():
    names = [f.name for f in registry.formats()]
    assert names == ["MILES", "stelrel-packed", "LAMOST-MRS", "LAMOST-LRS", "Gaia-XP", "specutils", "FITS-image"]
    assert registry.family("SDSS-III/IV spec") == "SDSS" and registry.family("DESI coadd") == "DESI"
    assert registry.family("LAMOST-LRS") == "LAMOST" and registry.format_of("Gaia-XP").shifts is False


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_files_are_identified_by_the_registry(name):
    path = SURVEYS / name
    if not path.is_file():
        pytest.skip(f"real survey file not found: {path}")
    fmt, label = registry.identify(path)
    assert (fmt.name, label, fmt.kind) == REAL[name]


def test_sets_are_identified_and_read_whole(tmp_path, miles_dir):
    assert registry.identify(miles_dir)[0].name == "MILES" and input_kind(miles_dir) == "miles"
    single = miles_dir / "MILES_res2.50_star_m0001V.fits"
    assert registry.identify(single)[0].name == "FITS-image" and input_kind(single) == "packed"
    packed = write_packed(SpectralSet(np.arange(4000.0, 4010.0) * u.AA, np.ones((2, 10))), tmp_path / "p.fits")
    assert registry.identify(packed)[0].name == "stelrel-packed" and input_kind(packed) == "packed"
    from specutils import Spectrum

    assert Spectrum.read(packed).flux.shape == (2, 10)  # the specutils loader asks the same test
    with pytest.raises(DataError, match=r"p.fits: a packed stelrel file; give it as the only input"):
        registry.read_records(packed)


def test_what_no_format_reads_is_named(tmp_path):
    image = tmp_path / "image.fits"
    fits.PrimaryHDU(np.ones((4, 4))).writeto(image)
    with pytest.raises(DataError, match=r"image.fits: not a spectrum format stelrel reads"):
        registry.identify(image)
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    with pytest.raises(DataError, match=r"notes.txt: not a FITS file .* and not a Gaia XP"):
        registry.identify(text)
    assert registry.find_set(image) is None and registry.find_set(tmp_path / "absent.fits") is None


def test_a_new_format_needs_only_its_entry(tmp_path, monkeypatch):
    """A format entry like those of the format_*.py files: read_spectra and pack_spectra find it, nothing else changes."""

    def identify(path, hdul):
        return "DEMO" if hdul is not None and hdul[0].header.get("TELESCOP") == "DEMO" else None

    def read(path, hdul, label, **options):
        wave = np.linspace(5000.0, 5100.0, 101)
        arm = arm_from_arrays("D", wave, hdul[0].data.astype(float), where=str(path))
        return [Record(keys={"DEMOID": str(hdul[0].header["DEMOID"])}, source=str(path), format="DEMO", arms=[arm],
                       z=0.0)]

    demo = Format("DEMO", identify=identify, read=read, family="DEMO-SURVEY", priority=35)
    monkeypatch.setattr(registry, "_FOUND", sorted([*registry.formats(), demo], key=lambda f: (f.priority, f.name)))
    for i in range(3):
        header = fits.Header({"TELESCOP": "DEMO", "DEMOID": 70 + i})
        fits.PrimaryHDU(np.full(101, 1.0 + i), header).writeto(tmp_path / f"demo-{i}.fits")
    s = read_spectra(tmp_path, progress=False)
    assert s.ids.tolist() == ["70", "71", "72"] and s.meta["survey"] == "DEMO-SURVEY"
    info = pack_spectra(tmp_path, tmp_path.parent / "demo.fits", overwrite=True, progress=False)
    assert info["formats"] == ["DEMO"] and info["ingest"]["spectra"] == 3


def test_the_registry_modules_follow_the_naming(tmp_path):
    """Each format_*.py module holds a FORMATS tuple of Format entries (what the registry finds)."""
    import importlib
    import pkgutil

    import stellar_relevance.io as io

    found = [m.name for m in pkgutil.iter_modules(io.__path__) if m.name.startswith("format_")]
    assert sorted(found) == ["format_gaia_xp", "format_lamost", "format_miles", "format_packed", "format_sdss"]
    for name in found:
        entries = importlib.import_module(f"stellar_relevance.io.{name}").FORMATS
        assert entries and all(isinstance(f, Format) for f in entries)


@pytest.mark.skipif(not (SURVEYS / "spec-0266-51602-0031.fits").is_file(), reason="real SDSS file not found")
def test_a_copy_renamed_is_identified_by_content(tmp_path):
    copy = tmp_path / "renamed.fits"
    shutil.copy(SURVEYS / "spec-0266-51602-0031.fits", copy)
    assert registry.identify(copy)[1] == "SDSS-III/IV spec"
