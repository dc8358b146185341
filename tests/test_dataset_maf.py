"""Per-species UTR extraction from MAF (utrbench.align.maf, bin/utr_orthologs.py) on hand-built alignments."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pysam
import pytest

from utrbench.align.maf import build_maf_index, indexed_alignments, stream_alignments
from utrbench.align.utrs import Utr, read_utr_bed
from utrbench.errors import UserError
from utrbench.seq.fasta import read_fasta
from utrbench.seq.genome import Genome

PROJECT = Path(__file__).resolve().parents[1]
ASSETS = PROJECT / "assets" / "test"

#          0         1         2         3
#          0123456789012345678901234567890123456789
CHR1 = "ACGTACGGTCAATTCCGGAATTGCATGCATGGCCAATTGG"

# Block 1: reference 0-15 with an insertion column after position 7; Mouse has an extra T there
# and a deletion; Dog (contig chrA) has two deletions. Block 2: reference 15-30; Mouse deletes
# two bases, Dog aligns on another contig (chrB). Block 3: reference 30-40, Mouse on the minus strand.
MAF = """##maf version=1
a score=0
s hg.chr1 0 15 + 40 ACGTACGG-TCaatTC
s Mouse.chr5 100 15 + 1000 ACGAACGGTTC-ATTC
s Dog.chrA 10 14 + 500 ACGTAC-G-TCAATTC

a score=0
s hg.chr1 15 15 + 40 CGGAATTGCATGCAT
s Mouse.chr5 115 13 + 1000 CGG--TTGCATGCAA
s Dog.chrB 20 15 + 500 CGGAATTGCATGCAT

a score=0
s hg.chr1 30 10 + 40 GGCCAATTGG
s Mouse.chr9 400 10 - 1000 GGCCTATTGG

"""

UTRS = [
    Utr("PLUS", "chr1", "+", [(5, 25)]),  # spans blocks 1 and 2
    Utr("MINUS", "chr1", "-", [(30, 38)]),  # block 3, reverse-complemented
    Utr("SPLICED", "chr1", "-", [(1, 4), (26, 29)]),  # two exons in two blocks, minus strand
    Utr("UNALIGNED", "chr2", "+", [(0, 4)]),
]


@pytest.fixture
def inputs(tmp_path):
    genome = tmp_path / "genome.fa"
    genome.write_text(f">chr1\n{CHR1}\n>chr2\nACGTACGT\n")
    maf = tmp_path / "aln.maf"
    maf.write_text(MAF)
    bed = tmp_path / "utrs.bed"
    bed.write_text("".join(f"{u.chrom}\t{s}\t{e}\t{u.utr_id}\t0\t{u.strand}\n" for u in UTRS for s, e in u.exons))
    return genome, maf, bed


def extract(genome, maf, utrs=UTRS):
    return {a.utr_id: a for a in stream_alignments([maf], utrs, Genome(genome), "hg")}


def sequences(alignment):
    return {species: found.sequence for species, found in alignment.species.items()}


def test_utr_spanning_two_blocks_with_insertions_and_contig_choice(inputs):
    plus = extract(*inputs[:2])["PLUS"]
    # Mouse block 1 columns 5-15: CGGTTC-ATTC (its insertion T kept), block 2 columns 0-9: CGG--TTGCA.
    # Dog: chrA gives 9 bases (C-G-TCAATTC), chrB 10 (CGGAATTGCA): chrB wins.
    assert sequences(plus) == {"Mouse": "CGGTTCATTC" + "CGGTTGCA", "Dog": "CGGAATTGCA"}
    assert (plus.species["Dog"].contig, plus.species["Dog"].candidates) == ("chrB", 2)
    assert plus.species["Mouse"].covered_positions == 20 - 1 - 2  # one deletion in block 1, two in block 2
    assert bytes(plus.columns["Dog"]).replace(b"\0", b".").decode() == "." * 10 + "CGGAATTGCA"


def test_minus_strand_utr_is_reverse_complemented(inputs):
    minus = extract(*inputs[:2])["MINUS"]
    assert sequences(minus) == {"Mouse": "AATAGGCC"}  # reverse complement of GGCCTATT
    found = minus.species["Mouse"]
    # The row is on the species' minus strand, the gene on the reference minus strand: + in transcript terms.
    assert (found.contig, found.strand, found.covered_positions) == ("chr9", "+", 8)
    assert bytes(minus.columns["Mouse"]).decode() == "AATAGGCC"


def test_spliced_minus_strand_utr_joins_exons_in_transcript_order(inputs):
    spliced = extract(*inputs[:2])["SPLICED"]
    # forward: block 1 columns 1-3 (CGA) + block 2 columns 11-13 (GCA) = CGAGCA; reverse complement:
    assert sequences(spliced)["Mouse"] == "TGCTCG"
    # Dog has 3 bases on chrA (exon 1) and 3 on chrB (exon 2): the tie goes to the smaller name.
    assert (sequences(spliced)["Dog"], spliced.species["Dog"].contig) == ("ACG", "chrA")
    assert spliced.length == 6


def test_unaligned_utr_and_missing_species_have_no_rows(inputs):
    found = extract(*inputs[:2])
    assert found["UNALIGNED"].species == {} and found["UNALIGNED"].length == 4
    assert "Dog" not in found["MINUS"].species


def test_indexed_access_equals_streaming_plain_and_bgzip(inputs, tmp_path):
    genome, maf, _ = inputs
    compressed = tmp_path / "aln.maf.gz"
    pysam.tabix_compress(str(maf), str(compressed))
    streamed = extract(genome, maf)
    assert {k: sequences(a) for k, a in extract(genome, compressed).items()} == \
        {k: sequences(a) for k, a in streamed.items()}
    for path in (maf, compressed):
        build_maf_index(path, tmp_path / "aln.index", "hg")
        indexed = {a.utr_id: a for a in indexed_alignments(path, tmp_path / "aln.index", UTRS, Genome(genome), "hg")}
        assert list(indexed) == [u.utr_id for u in UTRS]
        for utr_id, alignment in streamed.items():
            assert sequences(indexed[utr_id]) == sequences(alignment)
            for species, column in alignment.columns.items():
                np.testing.assert_array_equal(indexed[utr_id].columns[species], column)


def test_reference_row_disagreeing_with_genome_is_an_error(inputs):
    genome, maf, _ = inputs
    maf.write_text(MAF.replace("GGCCAATTGG\n", "GGCCAATAGG\n"))
    with pytest.raises(UserError, match=r"block at hg.chr1:30-40 has 'A' at chr1:38 where .*genome.fa has 'T'"):
        extract(genome, maf)


def test_unsorted_maf_is_an_error(inputs):
    genome, maf, _ = inputs
    header, block1, block2, block3 = MAF.replace("##maf version=1\n", "##maf version=1\n\n").split("\n\n")[:4]
    # Block 3 closes PLUS and SPLICED, then block 2 would add to them.
    maf.write_text("\n\n".join([header, block1, block3, block2]) + "\n\n")
    with pytest.raises(UserError, match=r"block at hg.chr1:15 comes after blocks past UTR PLUS; .* must be sorted"):
        extract(genome, maf)


def test_malformed_block_names_its_line(inputs):
    genome, maf, _ = inputs
    maf.write_text(MAF.replace("s Mouse.chr5 115 13 + 1000", "s Mouse.chr5 115 thirteen + 1000"))
    with pytest.raises(UserError, match=r"aln.maf: block at line 7 is not valid MAF"):
        extract(genome, maf)


def test_comment_lines_and_small_read_chunks_change_nothing(inputs, monkeypatch):
    """Comments (dropped, also inside a block) and blocks split across read chunks: the same records;
    errors name the right line."""
    import utrbench.align.maf as maf_module

    genome, maf, _ = inputs
    expected = {k: sequences(a) for k, a in extract(genome, maf).items()}
    commented = MAF.replace("##maf version=1\n", "##maf version=1\n# hal (Mouse,Dog)hg;\n\n")
    commented = commented.replace("s Dog.chrB", "# a comment inside a block\ns Dog.chrB")
    maf.write_text(commented)
    assert {k: sequences(a) for k, a in extract(genome, maf).items()} == expected
    chunks = maf_module._paragraph_chunks
    monkeypatch.setattr(maf_module, "_paragraph_chunks", lambda *args: chunks(*args, chunk_size=7))
    for text in (MAF, commented):
        maf.write_text(text)
        assert {k: sequences(a) for k, a in extract(genome, maf).items()} == expected
    maf.write_text(commented.replace("s Mouse.chr5 115 13 + 1000", "s Mouse.chr5 115 thirteen + 1000"))
    with pytest.raises(UserError, match=r"aln.maf: block at line 9 is not valid MAF"):
        extract(genome, maf)
    for text, line in ((MAF, 12), (commented, 15)):
        maf.write_text(text.replace("\na score=0\ns hg.chr1 30", "\ns hg.chr1 30"))
        with pytest.raises(UserError, match=rf"aln.maf: line {line} starts a block without an 'a' line"):
            extract(genome, maf)


def run_orthologs(bed, genome, maf, cwd, *extra):
    return subprocess.run(
        [sys.executable, str(PROJECT / "bin" / "utr_orthologs.py"), "--bed", str(bed), "--genome", str(genome),
         "--maf", str(maf), "--reference", "hg", "--out-fasta", "o.fa", "--out-coverage", "o.tsv", *extra],
        cwd=cwd, capture_output=True, text=True)


def test_cli_writes_fasta_and_coverage(inputs, tmp_path):
    genome, maf, bed = inputs
    result = run_orthologs(bed, genome, maf, tmp_path)
    assert result.returncode == 0, result.stderr
    fasta = (tmp_path / "o.fa").read_text()
    assert ">PLUS:Dog\nCGGAATTGCA\n" in fasta and ">MINUS:Mouse\nAATAGGCC\n" in fasta
    coverage = (tmp_path / "o.tsv").read_text().splitlines()
    assert coverage[0].split("\t") == ["utr_id", "species", "contig", "strand", "utr_length", "sequence_length",
                                      "covered_positions", "coverage", "candidates"]
    assert "PLUS\tDog\tchrB\t+\t20\t10\t10\t0.5\t2" in coverage


def test_cli_indexed_route_writes_the_same_records(inputs, tmp_path):
    # Streaming writes UTRs as the MAF passes them, the indexed route in BED order: same records.
    genome, maf, bed = inputs

    def records():
        return read_fasta(tmp_path / "o.fa"), sorted((tmp_path / "o.tsv").read_text().splitlines())

    assert run_orthologs(bed, genome, maf, tmp_path).returncode == 0
    streamed = records()
    subprocess.run([sys.executable, str(PROJECT / "bin" / "maf_index.py"), "--maf", str(maf), "--reference", "hg",
                    "--out", "aln.index"], cwd=tmp_path, check=True)
    assert run_orthologs(bed, genome, maf, tmp_path, "--maf-index", "aln.index").returncode == 0
    assert records() == streamed


def test_cli_bad_reference_exits_2_without_output(inputs, tmp_path):
    genome, maf, bed = inputs
    maf.write_text(MAF.replace("s hg.chr1 15 15 + 40 CGGAATTGCATGCAT", "s hg.chr1 15 15 + 40 CGGAATTGCATGAAT"))
    result = run_orthologs(bed, genome, maf, tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "block at hg.chr1:15-30 has 'A' at chr1:28" in result.stderr
    assert not (tmp_path / "o.fa").exists() and not (tmp_path / "o.tsv").exists()


def test_assets_alignment_streams_like_indexed(tmp_path):
    bed = tmp_path / "u.bed"
    bed.write_text("chr1\t403\t700\tA\t0\t+\nchr1\t1100\t1497\tB\t0\t-\nchr2\t353\t500\tC\t0\t+\n"
                   "chr2\t600\t800\tC\t1\t+\n")
    utrs = read_utr_bed(bed)
    genome = Genome(ASSETS / "genome.fa")
    build_maf_index(ASSETS / "alignment.maf", tmp_path / "a.index", "Homo_sapiens")
    streamed = {a.utr_id: sequences(a) for a in stream_alignments([ASSETS / "alignment.maf"], utrs, genome, "Homo_sapiens")}
    indexed = {a.utr_id: sequences(a) for a in
               indexed_alignments(ASSETS / "alignment.maf", tmp_path / "a.index", utrs, genome, "Homo_sapiens")}
    assert streamed == indexed
    assert set(streamed["A"]) == {"Bos_taurus", "Canis_lupus", "Mus_musculus"}  # Pan_troglodytes is missing


def _random_maf(rng, chroms, species):
    """A sorted MAF over ``chroms`` (name -> sequence): blocks of 20-60 reference bases, a third of
    them written with the reference row on '-', reference gap columns (insertions), species rows on
    random contigs and strands (some species absent, some twice in a block), a second reference row
    now and then, and blocks without a reference row."""
    letters = np.array(list("ACGT"))
    complement = str.maketrans("ACGT", "TGCA")
    lines = ["##maf version=1", ""]
    for chrom, sequence in chroms.items():
        position = 0
        while position < len(sequence):
            end = min(position + int(rng.integers(20, 60)), len(sequence))
            width = end - position + int(rng.integers(0, 4))
            gap_columns = set(rng.choice(width, width - (end - position), replace=False).tolist())
            reference = iter(sequence[position:end])
            rows = [(f"hg.{chrom}", position, "".join("-" if c in gap_columns else next(reference) for c in range(width)),
                     "+", len(sequence))]
            for name in species:
                for _ in range(int(rng.choice([0, 1, 1, 1, 2]))):
                    text = "".join("-" if rng.random() < 0.15 else letter for letter in rng.choice(letters, width))
                    rows.append((f"{name}.ctg{int(rng.integers(3))}", int(rng.integers(0, 5000)), text,
                                 "+-"[int(rng.integers(2))], 100000))
            if rng.random() < 0.1:  # a paralogous second reference row: not a species
                rows.append(("hg.chr9", 0, "".join(rng.choice(letters, width)), "+", 10000))
            if rng.random() < 0.35:  # the same block written from the other strand
                rows = [(src, size - start - (len(text) - text.count("-")), text.translate(complement)[::-1],
                         "+" if strand == "-" else "-", size) for src, start, text, strand, size in rows]
            lines.append("a score=0")
            lines += [f"s {src} {start} {len(text) - text.count('-')} {strand} {size} {text}"
                      for src, start, text, strand, size in rows]
            lines.append("")
            if rng.random() < 0.1:  # a block of species only
                lines += ["a score=0", f"s {species[0]}.ctg9 0 4 + 100 ACGT", f"s {species[1]}.ctg9 0 4 + 100 ACGT", ""]
            position = end
    return "\n".join(lines) + "\n"


def plain_bx_alignments(maf, utrs, reference):
    """The extraction written plainly: every block parsed by bx-python, every UTR checked against
    every block, the rules of utrbench.align.maf spelled out per column. Returns
    ``{utr_id: {species: (sequence, contig, strand, covered_positions, candidates, columns)}}``."""
    import bx.align.maf

    complement = str.maketrans("ACGTN", "TGCAN")
    prefix = reference + "."
    fragments = {utr.utr_id: [] for utr in utrs}  # (forward start, key, window text, letters at positions)
    with open(maf) as handle:
        for block in bx.align.maf.Reader(handle):
            human = block.get_component_by_src_start(prefix)
            if human is None:
                continue
            if human.strand == "-":
                block = block.reverse_complement()
                human = block.components[[c.src for c in block.components].index(human.src)]
            columns_of = [column for column, letter in enumerate(human.text) if letter != "-"]
            keys = {}
            for component in block.components:
                if not component.src.startswith(prefix):
                    species, contig = component.src.split(".", 1)
                    keys.setdefault((species, contig, component.strand), component.text.upper())
            for utr in utrs:
                forward = 0
                for start, end in utr.exons:
                    low, high = max(start, human.start), min(end, human.end)
                    if utr.chrom == human.src[len(prefix):] and low < high:
                        columns = columns_of[low - human.start:high - human.start]
                        for key, text in keys.items():
                            fragments[utr.utr_id].append((forward + low - start, key, text[columns[0]:columns[-1] + 1],
                                                          [text[column] for column in columns]))
                    forward += end - start
    result = {}
    for utr in utrs:
        by_key = {}
        for forward, key, window, letters in sorted(fragments[utr.utr_id], key=lambda entry: entry[0]):
            sequence, covered = by_key.setdefault(key, [[], {}])
            sequence.append(window.replace("-", ""))
            for position, letter in enumerate(letters, start=forward):
                if letter != "-":
                    covered.setdefault(position, letter)
        # 'first arrival wins' is file order; sorted() is stable and blocks arrive in reference order
        chosen = {}
        for (species, contig, strand), (sequence, covered) in by_key.items():
            sequence = "".join(sequence)
            if sequence:
                chosen.setdefault(species, []).append((-len(sequence), contig, strand, sequence, covered))
        result[utr.utr_id] = {}
        for species, options in chosen.items():
            _, contig, strand, sequence, covered = min(options, key=lambda option: option[:3])
            column = np.zeros(utr.length, dtype=np.uint8)
            for position, letter in covered.items():
                column[position] = ord(letter)
            if utr.strand == "-":
                sequence = sequence.translate(complement)[::-1]
                column = np.array([ord(chr(c).translate(complement)) if c else 0 for c in column[::-1]], dtype=np.uint8)
                strand = "+" if strand == "-" else "-"
            result[utr.utr_id][species] = (sequence, contig, strand, int(np.count_nonzero(column)), len(options), column)
    return result


def test_streaming_equals_plain_bx_extraction_on_a_genome_wide_maf(tmp_path):
    """Most blocks outside the UTRs, blocks on both strands, UTRs on both strands straddling block edges."""
    rng = np.random.default_rng(7)
    chroms = {"chr1": "".join(rng.choice(list("ACGT"), 3000)), "chr2": "".join(rng.choice(list("ACGT"), 1500)),
              "chr3": "".join(rng.choice(list("ACGT"), 500))}  # chr3: blocks, no UTR
    utrs = [Utr("P1", "chr1", "+", [(100, 180)]), Utr("M1", "chr1", "-", [(400, 470)]),
            Utr("S1", "chr1", "-", [(1000, 1030), (1100, 1161)]), Utr("P2", "chr1", "+", [(2950, 3000)]),
            Utr("M2", "chr2", "-", [(0, 45)]), Utr("P3", "chr2", "+", [(700, 705)]),
            Utr("S2", "chr2", "+", [(1200, 1260), (1300, 1330)])]
    maf = tmp_path / "aln.maf"
    maf.write_text(_random_maf(rng, chroms, ["Mouse", "Dog", "Cow"]))
    genome = tmp_path / "genome.fa"
    genome.write_text("".join(f">{name}\n{sequence}\n" for name, sequence in chroms.items()))
    covered = sum(u.length for u in utrs)
    assert covered < 0.15 * sum(map(len, chroms.values()))  # most blocks overlap no UTR
    expected = plain_bx_alignments(maf, utrs, "hg")
    streamed = {a.utr_id: a for a in stream_alignments([maf], utrs, Genome(genome), "hg")}
    assert set(streamed) == set(expected)
    for utr_id, by_species in expected.items():
        found = streamed[utr_id]
        assert sorted(found.species) == sorted(by_species), utr_id
        for species, (sequence, contig, strand, positions, candidates, column) in by_species.items():
            got = found.species[species]
            assert (got.sequence, got.contig, got.strand, got.covered_positions, got.candidates) == \
                (sequence, contig, strand, positions, candidates), (utr_id, species)
            np.testing.assert_array_equal(found.columns[species], column)
    assert sum(len(by_species) for by_species in expected.values()) > 15  # the comparison is not empty


@pytest.fixture
def per_chromosome(tmp_path):
    """One generated MAF per chromosome (blocks on both strands, UTRs on both, spliced ones), the
    genome and the UTR BED; chr4 has blocks but no UTR."""
    rng = np.random.default_rng(11)
    lengths = {"chr1": 2500, "chr2": 1800, "chr3": 1200, "chr4": 400}
    chroms = {name: "".join(rng.choice(list("ACGT"), length)) for name, length in lengths.items()}
    (tmp_path / "maf").mkdir()
    for name, sequence in chroms.items():
        (tmp_path / "maf" / f"{name}.maf").write_text(_random_maf(rng, {name: sequence}, ["Mouse", "Dog", "Cow"]))
    genome = tmp_path / "genome.fa"
    genome.write_text("".join(f">{name}\n{sequence}\n" for name, sequence in chroms.items()))
    utrs = [Utr("P1", "chr1", "+", [(100, 180)]), Utr("M1", "chr1", "-", [(400, 470)]),
            Utr("S1", "chr1", "-", [(1000, 1030), (1100, 1161)]), Utr("M2", "chr2", "-", [(0, 45)]),
            Utr("S2", "chr2", "+", [(1200, 1260), (1300, 1330)]), Utr("P3", "chr3", "+", [(1150, 1200)]),
            Utr("M3", "chr3", "-", [(30, 300)])]
    bed = tmp_path / "utrs.bed"
    bed.write_text("".join(f"{u.chrom}\t{s}\t{e}\t{u.utr_id}\t0\t{u.strand}\n" for u in utrs for s, e in u.exons))
    return genome, sorted((tmp_path / "maf").glob("*.maf")), bed, utrs


def test_parallel_chromosomes_equal_the_serial_stream_in_order(per_chromosome):
    genome, mafs, _, utrs = per_chromosome

    def records(workers):
        return [(a.utr_id, {s: (f.sequence, f.contig, f.strand, f.covered_positions, f.candidates, a.columns[s].tobytes())
                            for s, f in a.species.items()})
                for a in stream_alignments(mafs, utrs, Genome(genome), "hg", workers=workers)]

    serial = records(1)
    assert sum(len(by_species) for _, by_species in serial) > 15  # the comparison is not empty
    assert records(3) == serial and records(2) == serial  # more and fewer workers than MAFs
    expected = {}
    for maf in mafs:  # each chromosome's records equal the plain bx extraction of its MAF alone
        expected.update({utr_id: by_species for utr_id, by_species in plain_bx_alignments(maf, utrs, "hg").items()
                         if by_species})
    assert {utr_id: {s: v[:5] for s, v in by_species.items()} for utr_id, by_species in serial if by_species} == \
        {utr_id: {s: v[:5] for s, v in by_species.items()} for utr_id, by_species in expected.items()}


def _run_cli(script, bed, genome, maf_dir, cwd, *extra):
    return subprocess.run(
        [sys.executable, str(PROJECT / "bin" / script), "--bed", str(bed), "--genome", str(genome),
         "--maf-dir", str(maf_dir), "--reference", "hg", *extra], cwd=cwd, capture_output=True, text=True)


def test_cli_workers_write_byte_identical_outputs(per_chromosome, tmp_path):
    genome, mafs, bed, _ = per_chromosome
    outputs = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        out.mkdir()
        for script, extra in [("utr_orthologs.py", ["--out-fasta", "o.fa", "--out-coverage", "o.tsv",
                                                     "--out-summary", "s.tsv"]),
                              ("zooal.py", ["--out", "zooal.h5"])]:
            result = _run_cli(script, bed, genome, mafs[0].parent, out, "--workers", str(workers), *extra)
            assert result.returncode == 0, result.stderr
        outputs[workers] = {path.name: path.read_bytes() for path in sorted(out.iterdir())}
    assert sorted(outputs[1]) == ["o.fa", "o.tsv", "s.tsv", "zooal.h5"]
    assert outputs[2] == outputs[1]


def test_bad_maf_in_a_worker_exits_2_naming_file_and_line_without_output(per_chromosome, tmp_path):
    genome, mafs, bed, _ = per_chromosome
    lines = mafs[1].read_text().split("\n")
    number = next(n for n, line in enumerate(lines) if line.startswith("s hg.chr2"))  # 0-based: line number + 1
    fields = lines[number].split(" ")
    fields[3] = "many"
    lines[number] = " ".join(fields)
    mafs[1].write_text("\n".join(lines))
    result = _run_cli("utr_orthologs.py", bed, genome, mafs[0].parent, tmp_path, "--workers", "2",
                      "--out-fasta", "o.fa", "--out-coverage", "o.tsv")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {mafs[1]}: block at line {number} is not valid MAF"), result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o.fa").exists() and not (tmp_path / "o.tsv").exists()


def test_utr_aligned_in_two_mafs_is_an_error_for_any_workers(per_chromosome, tmp_path):
    genome, mafs, _, utrs = per_chromosome
    copy = tmp_path / "maf" / "chr1_again.maf"
    copy.write_text(mafs[0].read_text())
    for workers in (1, 2):
        with pytest.raises(UserError, match=r"chr1_again.maf: block at hg.chr1:\d+ overlaps UTR P1, which "
                                            r".*chr1.maf also aligns"):
            list(stream_alignments(sorted([*mafs, copy]), utrs, Genome(genome), "hg", workers=workers))
