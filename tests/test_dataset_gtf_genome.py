"""utrbench.seq.gtf (GTF reader) and utrbench.seq.genome (genome accessor)."""

import gzip

import pysam
import pytest

from utrbench.errors import UserError
from utrbench.seq.genome import Genome
from utrbench.seq.gtf import iter_gtf, parse_attributes

GTF = (
    "##description: test\n"
    'chr1\tHAVANA\tgene\t11\t100\t.\t+\t.\tgene_id "G1.2"; gene_name "ABC";\n'
    'chr1\tHAVANA\ttranscript\t11\t100\t.\t+\t.\tgene_id "G1.2"; transcript_id "T1.1"; level 2; '
    'tag "basic"; tag "Ensembl_canonical"; tag "MANE_Select";\n'
    "\n"
    'chr1\tHAVANA\tUTR\t91\t100\t.\t+\t.\tgene_id "G1.2"; transcript_id "T1.1"; tag "basic";\n'
)


def test_iter_gtf_parses_records_and_repeated_tags(tmp_path):
    path = tmp_path / "a.gtf"
    path.write_text(GTF)
    records = list(iter_gtf(path))
    assert [(r.feature, r.start, r.end, r.line_number) for r in records] == [
        ("gene", 11, 100, 2), ("transcript", 11, 100, 3), ("UTR", 91, 100, 5)]
    transcript = records[1]
    assert transcript.attributes == {"gene_id": "G1.2", "transcript_id": "T1.1", "level": "2",
                                     "tag": ["basic", "Ensembl_canonical", "MANE_Select"]}
    assert records[2].attributes["tag"] == ["basic"]  # a single tag is still a list
    assert (transcript.seqname, transcript.source, transcript.strand) == ("chr1", "HAVANA", "+")


def test_iter_gtf_reads_gzip_and_filters_features(tmp_path):
    path = tmp_path / "a.gtf.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(GTF)
    assert [r.feature for r in iter_gtf(path, features={"UTR", "gene"})] == ["gene", "UTR"]


@pytest.mark.parametrize("line, message", [
    ("chr1\tX\tgene\t11\t100\t.\t+\n", r"line 2 has 7 tab-separated columns"),
    ('chr1\tX\tgene\t11\tten\t.\t+\t.\tgene_id "G";\n', r"line 2: start '11' or end 'ten'"),
    ('chr1\tX\tgene\t50\t10\t.\t+\t.\tgene_id "G";\n', r"line 2: interval 50-10"),
    ('chr1\tX\tgene\t1\t10\t.\t*\t.\tgene_id "G";\n', r"line 2: strand '\*'"),
    ('chr1\tX\tgene\t1\t10\t.\t+\t.\tgene_id "G;\n', r"line 2: attribute 'gene_id \"G'"),
])
def test_iter_gtf_names_file_and_line_of_malformed_records(tmp_path, line, message):
    path = tmp_path / "bad.gtf"
    path.write_text('chr1\tX\tgene\t1\t10\t.\t+\t.\tgene_id "G";\n' + line)
    with pytest.raises(UserError, match=f"bad.gtf: {message}"):
        list(iter_gtf(path))


def test_parse_attributes_keeps_repeated_keys():
    assert parse_attributes('ont "A"; ont "B"; x "1 2";', "w") == {"ont": ["A", "B"], "x": "1 2"}


@pytest.fixture
def genome_path(tmp_path):
    path = tmp_path / "g.fa"
    path.write_text(">chr1 description\nACGTacgtNN\nGGCC\n>chr2\nTTTTA\n")
    return path


def test_genome_fetch_is_zero_based_uppercase_and_reverse_complements(genome_path):
    genome = Genome(genome_path)
    assert genome.contigs == ["chr1", "chr2"]
    assert genome.length("chr1") == 14
    assert genome.fetch("chr1", 2, 7) == "GTACG"
    assert genome.fetch("chr1", 2, 7, "-") == "CGTAC"
    assert genome.fetch("chr1", 8, 14) == "NNGGCC"
    assert genome.fetch("chr2", 0, 0) == ""
    assert (genome_path.parent / "g.fa.fai").exists()


def test_genome_reads_bgzip(genome_path, tmp_path):
    compressed = tmp_path / "g.fa.gz"
    pysam.tabix_compress(str(genome_path), str(compressed))
    assert Genome(compressed).fetch("chr2", 3, 5, "-") == "TA"


def test_genome_errors_name_contig_and_interval(genome_path):
    genome = Genome(genome_path)
    with pytest.raises(UserError, match=r"contig 'chrX' is not in the genome"):
        genome.fetch("chrX", 0, 1)
    with pytest.raises(UserError, match=r"interval chr2:3-6 lies outside the contig \(length 5\)"):
        genome.fetch("chr2", 3, 6)
    with pytest.raises(UserError, match="file not found"):
        Genome(genome_path.parent / "absent.fa")
