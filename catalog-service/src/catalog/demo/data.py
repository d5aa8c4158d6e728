"""The demo catalogue: per demo region the agencies of the seed stories, their services, an MPP.

Ids are stable (UUID 5 in ``DEMO_NAMESPACE``) so that other services' demo data can name them:

- agency:   ``uuid5(DEMO_NAMESPACE, "agency:<regency code>:<agency key>")``
- service:  ``uuid5(DEMO_NAMESPACE, "service:<regency code>:<agency key>:<service code>")``
- location: ``uuid5(DEMO_NAMESPACE, "location:<regency code>")``

e.g. the KTP-el service of Dinas Dukcapil Kota Samarinda is
``uuid5(DEMO_NAMESPACE, "service:64.72:dukcapil:ktp-el")``; ``demo_ids()`` lists them all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from catalog.demo import forms
from catalog.demo.forms import APPLICANT_PREFILL, CONTACT, CONTACT_PREFILL, choice, form, text

DEMO_NAMESPACE = uuid.UUID("6d7a3c1e-8f2b-5c4d-9e0a-1b2c3d4e5f60")

PDF_IMAGE = ["application/pdf", "image/jpeg", "image/png"]
IMAGE = ["image/jpeg", "image/png"]


@dataclass(frozen=True)
class DemoRegion:
    code: str  # the regency/city
    place: str  # "Kota Samarinda"
    town: str  # the seat of the offices: "Samarinda"
    bank: str  # the regional bank's branch (BUMD)
    address: str  # the MPP building


DEMO_REGIONS: tuple[DemoRegion, ...] = (
    DemoRegion(
        "64.09",
        "Kabupaten Penajam Paser Utara",
        "Penajam",
        "Bankaltimtara Cabang Penajam",
        "Jl. Provinsi KM 9, Nipah-Nipah, Penajam",
    ),
    DemoRegion(
        "11.74",
        "Kota Langsa",
        "Langsa",
        "Bank Aceh Syariah Cabang Langsa",
        "Jl. Jenderal Ahmad Yani No. 1, Langsa Kota",
    ),
    DemoRegion(
        "64.72",
        "Kota Samarinda",
        "Samarinda",
        "Bankaltimtara Cabang Utama Samarinda",
        "Jl. Kesuma Bangsa No. 1, Samarinda",
    ),
    DemoRegion(
        "35.74",
        "Kota Probolinggo",
        "Probolinggo",
        "Bank Jatim Cabang Probolinggo",
        "Jl. Panglima Sudirman No. 19, Probolinggo",
    ),
    DemoRegion(
        "12.09",
        "Kabupaten Asahan",
        "Kisaran",
        "Bank Sumut Cabang Kisaran",
        "Jl. Jenderal Sudirman No. 5, Kisaran",
    ),
)
DEMO_REGENCY_CODES: frozenset[str] = frozenset(region.code for region in DEMO_REGIONS)

Definition = dict[str, Any]


@dataclass(frozen=True)
class DemoService:
    code: str
    build: Callable[[DemoRegion], Definition]


@dataclass(frozen=True)
class DemoAgency:
    key: str
    kind: str
    name: Callable[[DemoRegion], str]
    services: tuple[DemoService, ...] = field(default_factory=tuple)


def _req(
    code: str,
    name: str,
    *,
    mandatory: bool = True,
    types: list[str] | None = None,
    max_mb: float = 2.0,
) -> dict[str, Any]:
    return {
        "code": code,
        "name": name,
        "mandatory": mandatory,
        "accepted_types": types or PDF_IMAGE,
        "max_size_mb": max_mb,
    }


def _stages(*names: tuple[str, str]) -> list[dict[str, str]]:
    return [{"code": code, "name": name} for code, name in names]


VERIFY_STAGES = _stages(
    ("verifikasi", "Verifikasi berkas"),
    ("proses", "Pemrosesan"),
    ("penerbitan", "Penerbitan dan penyerahan"),
)


def _complaints(agency: str, region: DemoRegion) -> str:
    return (
        f"SP4N-LAPOR! (lapor.go.id), atau loket pengaduan {agency} di Mal Pelayanan Publik "
        f"{region.place}"
    )


# --- Dinas Dukcapil ---------------------------------------------------------------------------


def _dukcapil(
    region: DemoRegion, *, name: str, category: str = "kependudukan", **fields: Any
) -> Definition:
    return {
        "name": name,
        "category": category,
        "region_codes": [region.code],
        "fee": {"amount_idr": 0, "note": "Tidak dipungut biaya (UU 24/2013 Pasal 79A)"},
        "complaint_channel": _complaints("Dinas Dukcapil", region),
        "channels": ["online", "counter"],
        "legal_basis": [
            "Undang-Undang Nomor 24 Tahun 2013 tentang Administrasi Kependudukan",
            "Peraturan Presiden Nomor 96 Tahun 2018 tentang Persyaratan dan Tata Cara "
            "Pendaftaran Penduduk dan Pencatatan Sipil",
        ],
        "stages": VERIFY_STAGES,
        **fields,
    }


DUKCAPIL = DemoAgency(
    key="dukcapil",
    kind="opd",
    name=lambda r: f"Dinas Kependudukan dan Pencatatan Sipil {r.place}",
    services=(
        DemoService(
            "ktp-el",
            lambda r: _dukcapil(
                r,
                name="Penerbitan KTP-el",
                description="Penerbitan Kartu Tanda Penduduk elektronik bagi penduduk yang telah "
                "berusia 17 tahun atau sudah menikah, serta penggantian KTP-el yang rusak, hilang, "
                "atau berubah datanya.",
                keywords=["ktp", "ktp-el", "e-ktp", "kartu tanda penduduk", "perekaman"],
                requirements=[
                    _req("kk", "Kartu Keluarga"),
                    _req(
                        "ktp_lama",
                        "KTP-el lama (untuk penggantian karena rusak atau berubah data)",
                        mandatory=False,
                    ),
                    _req(
                        "surat_kehilangan",
                        "Surat keterangan kehilangan dari kepolisian "
                        "(untuk penggantian karena hilang)",
                        mandatory=False,
                    ),
                ],
                procedure=[
                    "Pemohon mengisi formulir permohonan secara daring atau di loket.",
                    "Petugas memverifikasi data dan berkas.",
                    "Pemohon melakukan perekaman biometrik (foto, sidik jari, iris) jika belum "
                    "pernah merekam.",
                    "KTP-el dicetak dan diserahkan kepada pemohon.",
                ],
                sla_working_days=1,
                output="Kartu Tanda Penduduk elektronik (KTP-el)",
                form_schema=form(
                    {
                        "reason": choice(
                            "Alasan permohonan", ["baru", "rusak", "hilang", "perubahan_data"]
                        ),
                        "kk_number": forms.KK_NUMBER,
                    },
                    ["nik", "full_name", "birth_date", "address", "reason", "kk_number"],
                ),
                prefill=APPLICANT_PREFILL,
            ),
        ),
        DemoService(
            "kk",
            lambda r: _dukcapil(
                r,
                name="Penerbitan Kartu Keluarga",
                description="Penerbitan Kartu Keluarga baru, penambahan atau pengurangan anggota "
                "keluarga, dan perubahan data Kartu Keluarga.",
                keywords=["kk", "kartu keluarga", "anggota keluarga", "pecah kk"],
                requirements=[
                    _req("kk_lama", "Kartu Keluarga lama", mandatory=False),
                    _req("buku_nikah", "Buku nikah atau akta perkawinan", mandatory=False),
                    _req(
                        "surat_pindah",
                        "Surat Keterangan Pindah (jika anggota datang dari daerah lain)",
                        mandatory=False,
                    ),
                ],
                procedure=[
                    "Pemohon mengisi formulir F-1.06 dan mengunggah dokumen pendukung.",
                    "Petugas memverifikasi dan memvalidasi data.",
                    "Kartu Keluarga diterbitkan dengan tanda tangan elektronik.",
                ],
                sla_working_days=1,
                output="Kartu Keluarga (KK) dengan tanda tangan elektronik",
                form_schema=form(
                    {
                        "kk_number": forms.KK_NUMBER,
                        "change": choice(
                            "Jenis perubahan",
                            ["kk_baru", "tambah_anggota", "kurang_anggota", "perubahan_data"],
                        ),
                        "note": text("Keterangan", 500),
                    },
                    ["nik", "full_name", "address", "change"],
                ),
                prefill=APPLICANT_PREFILL,
            ),
        ),
        DemoService(
            "akta-kelahiran",
            lambda r: _dukcapil(
                r,
                name="Penerbitan Akta Kelahiran",
                category="kependudukan",
                description="Pencatatan kelahiran dan penerbitan kutipan akta kelahiran bagi bayi "
                "yang lahir di wilayah ini; pelaporan paling lambat 60 hari sejak kelahiran.",
                keywords=["akta kelahiran", "akte kelahiran", "akta lahir", "kelahiran", "bayi"],
                requirements=[
                    _req(
                        "surat_lahir",
                        "Surat keterangan lahir dari rumah sakit, puskesmas, atau bidan",
                    ),
                    _req("kk", "Kartu Keluarga orang tua"),
                    _req(
                        "buku_nikah", "Buku nikah atau akta perkawinan orang tua", mandatory=False
                    ),
                    _req(
                        "sptjm",
                        "Surat Pernyataan Tanggung Jawab Mutlak (SPTJM) kebenaran data kelahiran",
                        mandatory=False,
                    ),
                ],
                procedure=[
                    "Orang tua mengisi formulir F-2.01 dan mengunggah persyaratan.",
                    "Petugas memverifikasi data kelahiran.",
                    "Akta kelahiran diterbitkan dan anak ditambahkan ke Kartu Keluarga.",
                ],
                sla_working_days=1,
                output="Kutipan Akta Kelahiran dan Kartu Keluarga yang diperbarui",
                form_schema=form(
                    {
                        "child_name": text("Nama anak", 100),
                        "child_birth_date": {**forms.DATE, "title": "Tanggal lahir anak"},
                        "child_birth_place": text("Tempat lahir anak", 100),
                        "child_gender": forms.GENDER,
                        "mother_nik": {**forms.NIK, "title": "NIK ibu"},
                        "father_nik": {**forms.NIK, "title": "NIK ayah"},
                    },
                    [
                        "nik",
                        "full_name",
                        "child_name",
                        "child_birth_date",
                        "child_birth_place",
                        "child_gender",
                        "mother_nik",
                    ],
                ),
                prefill=APPLICANT_PREFILL,
            ),
        ),
        DemoService(
            "pindah-datang",
            lambda r: _dukcapil(
                r,
                name="Pelayanan Pindah Datang Penduduk",
                description="Penerbitan Surat Keterangan Pindah (SKPWNI) bagi penduduk yang pindah "
                "ke luar daerah, dan pencatatan kedatangan penduduk dari daerah lain.",
                keywords=["pindah", "pindah datang", "skpwni", "surat pindah", "mutasi penduduk"],
                requirements=[
                    _req("kk", "Kartu Keluarga"),
                    _req(
                        "skpwni",
                        "Surat Keterangan Pindah dari daerah asal (untuk kedatangan)",
                        mandatory=False,
                    ),
                ],
                procedure=[
                    "Pemohon mengisi formulir F-1.03 (pindah) atau melaporkan kedatangan.",
                    "Petugas memverifikasi data dan alamat tujuan.",
                    "SKPWNI diterbitkan atau KK dan KTP-el baru diterbitkan di daerah tujuan.",
                ],
                sla_working_days=1,
                output="Surat Keterangan Pindah WNI (SKPWNI), KK dan KTP-el baru",
                form_schema=form(
                    {
                        "direction": choice("Jenis", ["pindah_keluar", "datang"]),
                        "destination_address": text("Alamat tujuan", 300),
                        "destination_region_code": text("Kode wilayah tujuan", 13),
                        "reason": choice(
                            "Alasan pindah",
                            ["pekerjaan", "pendidikan", "keluarga", "keamanan", "lainnya"],
                        ),
                        "members": {
                            "type": "array",
                            "title": "NIK anggota keluarga yang pindah",
                            "items": forms.NIK,
                            "minItems": 1,
                        },
                    },
                    [
                        "nik",
                        "full_name",
                        "address",
                        "direction",
                        "destination_address",
                        "reason",
                        "members",
                    ],
                ),
                prefill=APPLICANT_PREFILL,
            ),
        ),
        DemoService(
            "akta-kematian",
            lambda r: _dukcapil(
                r,
                name="Penerbitan Akta Kematian",
                description="Pencatatan kematian penduduk dan penerbitan kutipan akta kematian; "
                "data penduduk yang meninggal dinonaktifkan dan Kartu Keluarga diperbarui.",
                keywords=["akta kematian", "akte kematian", "kematian", "meninggal"],
                requirements=[
                    _req(
                        "surat_kematian",
                        "Surat keterangan kematian dari rumah sakit, puskesmas, "
                        "atau kelurahan/desa",
                    ),
                    _req("kk", "Kartu Keluarga almarhum/almarhumah"),
                    _req("ktp_almarhum", "KTP-el almarhum/almarhumah", mandatory=False),
                ],
                procedure=[
                    "Pelapor mengisi formulir F-2.01 bagian kematian.",
                    "Petugas memverifikasi surat keterangan kematian.",
                    "Akta kematian dan Kartu Keluarga baru diterbitkan.",
                ],
                sla_working_days=1,
                output="Kutipan Akta Kematian dan Kartu Keluarga yang diperbarui",
                form_schema=form(
                    {
                        "deceased_nik": {**forms.NIK, "title": "NIK almarhum/almarhumah"},
                        "deceased_name": text("Nama almarhum/almarhumah", 100),
                        "date_of_death": {**forms.DATE, "title": "Tanggal meninggal"},
                        "relationship": choice(
                            "Hubungan pelapor",
                            ["anak", "suami_istri", "orang_tua", "saudara", "lainnya"],
                        ),
                    },
                    [
                        "nik",
                        "full_name",
                        "deceased_nik",
                        "deceased_name",
                        "date_of_death",
                        "relationship",
                    ],
                ),
                prefill=APPLICANT_PREFILL,
            ),
        ),
    ),
)

# --- BPKD -------------------------------------------------------------------------------------

BPKD = DemoAgency(
    key="bpkd",
    kind="opd",
    name=lambda r: f"Badan Pengelolaan Keuangan Daerah {r.place}",
    services=(
        DemoService(
            "pbb-p2",
            lambda r: {
                "name": "Pendaftaran dan Mutasi Objek Pajak PBB-P2",
                "description": "Pendaftaran objek Pajak Bumi dan Bangunan Perdesaan dan Perkotaan "
                "(PBB-P2) baru, mutasi (balik nama) objek pajak, dan penerbitan SPPT.",
                "category": "perpajakan",
                "keywords": ["pbb", "pajak bumi dan bangunan", "sppt", "balik nama", "nop"],
                "region_codes": [r.code],
                "requirements": [
                    _req("sertifikat", "Sertifikat tanah atau bukti kepemilikan lain"),
                    _req("ktp", "KTP-el wajib pajak"),
                    _req("spop", "Surat Pemberitahuan Objek Pajak (SPOP) yang telah diisi"),
                    _req("foto_objek", "Foto objek pajak", types=IMAGE),
                ],
                "procedure": [
                    "Wajib pajak mengisi SPOP/LSPOP dan mengunggah dokumen.",
                    "Petugas meneliti berkas dan, bila perlu, meninjau lokasi objek pajak.",
                    "SPPT PBB-P2 diterbitkan atas nama wajib pajak.",
                ],
                "stages": _stages(
                    ("penelitian", "Penelitian berkas"),
                    ("lapangan", "Peninjauan lapangan"),
                    ("penetapan", "Penetapan dan penerbitan SPPT"),
                ),
                "sla_working_days": 5,
                "fee": {"amount_idr": 0, "note": "Tidak dipungut biaya pelayanan"},
                "output": "SPPT PBB-P2 dan Nomor Objek Pajak (NOP)",
                "legal_basis": [
                    "Undang-Undang Nomor 1 Tahun 2022 tentang Hubungan Keuangan antara "
                    "Pemerintah Pusat dan Pemerintahan Daerah",
                    f"Peraturan Daerah {r.place} tentang Pajak Daerah dan Retribusi Daerah",
                ],
                "complaint_channel": _complaints("BPKD", r),
                "channels": ["online", "counter"],
                "form_schema": form(
                    {
                        "object_address": text("Alamat objek pajak", 300),
                        "land_area_m2": {
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "title": "Luas tanah (m²)",
                        },
                        "building_area_m2": {
                            "type": "number",
                            "minimum": 0,
                            "title": "Luas bangunan (m²)",
                        },
                        "request": choice(
                            "Jenis permohonan", ["objek_baru", "mutasi", "pembetulan"]
                        ),
                        "nop": {
                            "type": "string",
                            "pattern": "^[0-9]{18}$",
                            "title": "NOP (untuk mutasi)",
                        },
                    },
                    ["nik", "full_name", "object_address", "land_area_m2", "request"],
                ),
                "prefill": APPLICANT_PREFILL,
            },
        ),
        DemoService(
            "bphtb",
            lambda r: {
                "name": "Validasi Bea Perolehan Hak atas Tanah dan Bangunan (BPHTB)",
                "description": "Penelitian dan validasi Surat Setoran Pajak Daerah BPHTB atas jual "
                "beli, hibah, atau waris tanah dan bangunan sebelum akta dan balik nama "
                "sertifikat.",
                "category": "perpajakan",
                "keywords": ["bphtb", "jual beli tanah", "validasi", "hibah", "waris"],
                "region_codes": [r.code],
                "requirements": [
                    _req("sspd", "Surat Setoran Pajak Daerah BPHTB"),
                    _req("sppt", "SPPT PBB tahun berjalan"),
                    _req("sertifikat", "Fotokopi sertifikat tanah"),
                    _req("ktp", "KTP-el penjual dan pembeli"),
                ],
                "procedure": [
                    "Wajib pajak atau PPAT mengunggah SSPD BPHTB dan persyaratan.",
                    "Petugas meneliti nilai perolehan dan menghitung pajak terutang.",
                    "SSPD BPHTB divalidasi setelah pembayaran terkonfirmasi.",
                ],
                "stages": _stages(
                    ("penelitian", "Penelitian SSPD"),
                    ("pembayaran", "Konfirmasi pembayaran"),
                    ("validasi", "Validasi"),
                ),
                "sla_working_days": 3,
                "fee": {
                    "amount_idr": 0,
                    "note": "BPHTB 5% dari NPOP dikurangi NPOPTKP, dibayar melalui bank persepsi",
                },
                "output": "SSPD BPHTB tervalidasi",
                "legal_basis": [
                    "Undang-Undang Nomor 1 Tahun 2022 tentang Hubungan Keuangan antara "
                    "Pemerintah Pusat dan Pemerintahan Daerah"
                ],
                "complaint_channel": _complaints("BPKD", r),
                "channels": ["online"],
                "form_schema": form(
                    {
                        "nop": {"type": "string", "pattern": "^[0-9]{18}$", "title": "NOP"},
                        "acquisition": choice(
                            "Jenis perolehan", ["jual_beli", "hibah", "waris", "lainnya"]
                        ),
                        "acquisition_value_idr": {
                            "type": "integer",
                            "minimum": 0,
                            "title": "Nilai perolehan (Rp)",
                        },
                    },
                    ["nik", "full_name", "nop", "acquisition", "acquisition_value_idr"],
                ),
                "prefill": APPLICANT_PREFILL,
            },
        ),
    ),
)

# --- Dinas Ketenagakerjaan --------------------------------------------------------------------

DISNAKER = DemoAgency(
    key="disnaker",
    kind="opd",
    name=lambda r: f"Dinas Ketenagakerjaan {r.place}",
    services=(
        DemoService(
            "kartu-ak1",
            lambda r: {
                "name": "Kartu Tanda Bukti Pendaftaran Pencari Kerja (Kartu AK/1)",
                "description": "Pendaftaran pencari kerja dan penerbitan kartu kuning (AK/1) "
                "sebagai "
                "syarat melamar pekerjaan, berlaku dua tahun.",
                "category": "ketenagakerjaan",
                "keywords": ["ak1", "ak/1", "kartu kuning", "pencari kerja", "lowongan kerja"],
                "region_codes": [r.code],
                "requirements": [
                    _req("ijazah", "Ijazah pendidikan terakhir"),
                    _req("pas_foto", "Pas foto 3x4 berwarna", types=IMAGE, max_mb=1),
                    _req(
                        "sertifikat_keahlian", "Sertifikat keahlian atau pelatihan", mandatory=False
                    ),
                ],
                "procedure": [
                    "Pencari kerja mendaftar dan melengkapi profil pendidikan dan keahlian.",
                    "Petugas memverifikasi ijazah dan data diri.",
                    "Kartu AK/1 diterbitkan dan dapat diunduh atau diambil di loket.",
                ],
                "stages": _stages(
                    ("verifikasi", "Verifikasi data"), ("penerbitan", "Penerbitan kartu")
                ),
                "sla_working_days": 1,
                "fee": {"amount_idr": 0, "note": "Tidak dipungut biaya"},
                "output": "Kartu AK/1 (kartu kuning)",
                "legal_basis": [
                    "Peraturan Menteri Ketenagakerjaan Nomor 39 Tahun 2016 tentang "
                    "Penempatan Tenaga Kerja"
                ],
                "complaint_channel": _complaints("Dinas Ketenagakerjaan", r),
                "channels": ["online", "counter"],
                "form_schema": form(
                    {
                        "education": choice(
                            "Pendidikan terakhir", ["sd", "smp", "sma_smk", "d3", "s1", "s2", "s3"]
                        ),
                        "major": text("Jurusan", 100),
                        "skills": {
                            "type": "array",
                            "items": {"type": "string", "maxLength": 60},
                            "maxItems": 10,
                            "title": "Keahlian",
                        },
                        "email": forms.EMAIL,
                    },
                    ["nik", "full_name", "birth_date", "address", "education"],
                ),
                "prefill": {**APPLICANT_PREFILL, "email": "email"},
            },
        ),
        DemoService(
            "wajib-lapor-ketenagakerjaan",
            lambda r: {
                "name": "Wajib Lapor Ketenagakerjaan di Perusahaan",
                "description": "Pelaporan data ketenagakerjaan perusahaan (WLKP) dan penerbitan "
                "bukti lapor bagi perusahaan yang berdiri, pindah, atau tutup.",
                "category": "ketenagakerjaan",
                "keywords": ["wlkp", "wajib lapor", "perusahaan", "tenaga kerja"],
                "region_codes": [r.code],
                "requirements": [
                    _req("nib", "Nomor Induk Berusaha (NIB)"),
                    _req("daftar_pekerja", "Daftar pekerja", types=["application/pdf"], max_mb=5),
                ],
                "procedure": [
                    "Pengusaha mengisi data perusahaan dan tenaga kerja.",
                    "Pengawas ketenagakerjaan memeriksa laporan.",
                    "Bukti lapor WLKP diterbitkan.",
                ],
                "stages": _stages(
                    ("pemeriksaan", "Pemeriksaan laporan"), ("penerbitan", "Penerbitan bukti lapor")
                ),
                "sla_working_days": 3,
                "fee": {"amount_idr": 0, "note": None},
                "output": "Bukti lapor WLKP",
                "legal_basis": [
                    "Undang-Undang Nomor 7 Tahun 1981 tentang Wajib Lapor "
                    "Ketenagakerjaan di Perusahaan"
                ],
                "complaint_channel": _complaints("Dinas Ketenagakerjaan", r),
                "channels": ["online"],
                "form_schema": form(
                    {
                        "company_name": text("Nama perusahaan", 200),
                        "nib": {"type": "string", "pattern": "^[0-9]{13}$", "title": "NIB"},
                        "workers": {"type": "integer", "minimum": 1, "title": "Jumlah pekerja"},
                    },
                    ["nik", "full_name", "phone", "company_name", "nib", "workers"],
                    base=CONTACT,
                ),
                "prefill": CONTACT_PREFILL,
            },
        ),
    ),
)

# --- DPMPTSP ----------------------------------------------------------------------------------

DPMPTSP = DemoAgency(
    key="dpmptsp",
    kind="opd",
    name=lambda r: f"Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu {r.place}",
    services=(
        DemoService(
            "izin-usaha-mikro",
            lambda r: {
                "name": "Pendampingan Perizinan Berusaha (NIB) Usaha Mikro dan Kecil",
                "description": "Pendampingan penerbitan Nomor Induk Berusaha melalui OSS RBA dan "
                "sertifikat standar bagi usaha mikro dan kecil berisiko rendah dan menengah "
                "rendah.",
                "category": "perizinan",
                "keywords": ["izin usaha", "nib", "oss", "umkm", "perizinan berusaha", "siup"],
                "region_codes": [r.code],
                "requirements": [
                    _req("ktp", "KTP-el pemilik usaha"),
                    _req("npwp", "NPWP pemilik usaha", mandatory=False),
                    _req("foto_usaha", "Foto tempat usaha", types=IMAGE),
                ],
                "procedure": [
                    "Pelaku usaha mengisi data usaha dan KBLI.",
                    "Petugas mendampingi pengisian di OSS RBA dan memverifikasi data.",
                    "NIB dan sertifikat standar terbit melalui OSS.",
                ],
                "stages": _stages(
                    ("verifikasi", "Verifikasi data usaha"),
                    ("oss", "Pengajuan di OSS RBA"),
                    ("terbit", "Penerbitan NIB"),
                ),
                "sla_working_days": 2,
                "fee": {"amount_idr": 0, "note": "Tidak dipungut biaya"},
                "output": "Nomor Induk Berusaha (NIB) dan sertifikat standar",
                "legal_basis": [
                    "Peraturan Pemerintah Nomor 5 Tahun 2021 tentang Penyelenggaraan "
                    "Perizinan Berusaha Berbasis Risiko"
                ],
                "complaint_channel": _complaints("DPMPTSP", r),
                "channels": ["online", "counter"],
                "form_schema": form(
                    {
                        "business_name": text("Nama usaha", 200),
                        "kbli": {"type": "string", "pattern": "^[0-9]{5}$", "title": "Kode KBLI"},
                        "business_address": text("Alamat usaha", 300),
                        "capital_idr": {
                            "type": "integer",
                            "minimum": 0,
                            "title": "Modal usaha (Rp)",
                        },
                    },
                    ["nik", "full_name", "address", "business_name", "kbli", "business_address"],
                ),
                "prefill": APPLICANT_PREFILL,
            },
        ),
        DemoService(
            "pbg",
            lambda r: {
                "name": "Persetujuan Bangunan Gedung (PBG)",
                "description": "Persetujuan untuk membangun baru, mengubah, memperluas, atau "
                "merawat "
                "bangunan gedung sesuai standar teknis, pengganti IMB.",
                "category": "perizinan",
                "keywords": ["pbg", "imb", "izin mendirikan bangunan", "bangunan gedung"],
                "region_codes": [r.code],
                "requirements": [
                    _req("sertifikat", "Bukti kepemilikan tanah"),
                    _req(
                        "gambar_teknis",
                        "Gambar arsitektur, struktur, dan utilitas",
                        types=["application/pdf"],
                        max_mb=20,
                    ),
                    _req("ktp", "KTP-el pemohon"),
                ],
                "procedure": [
                    "Pemohon mengajukan PBG melalui SIMBG dan mengunggah dokumen teknis.",
                    "Tim Profesi Ahli memeriksa pemenuhan standar teknis.",
                    "Retribusi PBG dihitung dan dibayar.",
                    "PBG diterbitkan.",
                ],
                "stages": _stages(
                    ("pemeriksaan", "Pemeriksaan dokumen"),
                    ("konsultasi", "Konsultasi Tim Profesi Ahli"),
                    ("retribusi", "Penetapan dan pembayaran retribusi"),
                    ("penerbitan", "Penerbitan PBG"),
                ),
                "sla_working_days": 28,
                "fee": {
                    "amount_idr": 0,
                    "note": "Retribusi PBG sesuai luas dan fungsi bangunan "
                    "(Perda Pajak Daerah dan Retribusi Daerah)",
                },
                "output": "Persetujuan Bangunan Gedung (PBG)",
                "legal_basis": ["Peraturan Pemerintah Nomor 16 Tahun 2021 tentang Bangunan Gedung"],
                "complaint_channel": _complaints("DPMPTSP", r),
                "channels": ["online", "counter"],
                "form_schema": form(
                    {
                        "building_function": choice(
                            "Fungsi bangunan",
                            ["hunian", "usaha", "keagamaan", "sosial_budaya", "khusus"],
                        ),
                        "floor_area_m2": {
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "title": "Luas lantai (m²)",
                        },
                        "floors": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 100,
                            "title": "Jumlah lantai",
                        },
                        "site_address": text("Alamat lokasi bangunan", 300),
                    },
                    [
                        "nik",
                        "full_name",
                        "building_function",
                        "floor_area_m2",
                        "floors",
                        "site_address",
                    ],
                ),
                "prefill": APPLICANT_PREFILL,
            },
        ),
    ),
)

# --- Kantor Imigrasi --------------------------------------------------------------------------

IMIGRASI = DemoAgency(
    key="imigrasi",
    kind="vertical",
    name=lambda r: f"Kantor Imigrasi {r.town}",
    services=(
        DemoService(
            "paspor",
            lambda r: {
                "name": "Penerbitan Paspor Biasa",
                "description": "Penerbitan paspor biasa elektronik atau non-elektronik bagi warga "
                "negara Indonesia, termasuk penggantian paspor yang habis masa berlaku.",
                "category": "keimigrasian",
                "keywords": ["paspor", "passport", "paspor elektronik", "e-paspor", "imigrasi"],
                "region_codes": [r.code[:2]],
                "requirements": [
                    _req("ktp", "KTP-el"),
                    _req("kk", "Kartu Keluarga"),
                    _req("akta_lahir", "Akta kelahiran, ijazah, atau buku nikah"),
                    _req("paspor_lama", "Paspor lama (untuk penggantian)", mandatory=False),
                ],
                "procedure": [
                    "Pemohon mengisi data dan memilih jadwal kedatangan.",
                    "Pemohon datang untuk verifikasi berkas, wawancara, foto, dan sidik jari.",
                    "Pemohon membayar PNBP melalui bank atau kantor pos.",
                    "Paspor dicetak dan diambil di kantor imigrasi.",
                ],
                "stages": _stages(
                    ("verifikasi", "Verifikasi dan wawancara"),
                    ("pembayaran", "Pembayaran PNBP"),
                    ("pencetakan", "Pencetakan paspor"),
                ),
                "sla_working_days": 4,
                "fee": {
                    "amount_idr": 350000,
                    "note": "PNBP paspor biasa non-elektronik 48 halaman "
                    "Rp350.000; elektronik Rp650.000 (PP 45/2024)",
                },
                "output": "Paspor biasa Republik Indonesia",
                "legal_basis": [
                    "Undang-Undang Nomor 6 Tahun 2011 tentang Keimigrasian",
                    "Peraturan Pemerintah Nomor 45 Tahun 2024 tentang Jenis dan Tarif "
                    "PNBP pada Kementerian Imigrasi dan Pemasyarakatan",
                ],
                "complaint_channel": "Pengaduan Imigrasi (pengaduan.imigrasi.go.id) atau "
                "SP4N-LAPOR!",
                "channels": ["online", "counter"],
                "min_assurance_level": 2,
                "form_schema": form(
                    {
                        "passport_type": choice("Jenis paspor", ["elektronik", "non_elektronik"]),
                        "purpose": choice(
                            "Tujuan",
                            ["wisata", "umrah_haji", "bekerja", "belajar", "kunjungan_keluarga"],
                        ),
                        "birth_place": text("Tempat lahir", 100),
                        "mother_name": text("Nama ibu kandung", 100),
                        "old_passport_number": text("Nomor paspor lama", 20),
                    },
                    [
                        "nik",
                        "full_name",
                        "birth_date",
                        "gender",
                        "address",
                        "passport_type",
                        "purpose",
                        "birth_place",
                        "mother_name",
                    ],
                ),
                "prefill": APPLICANT_PREFILL,
            },
        ),
    ),
)

# --- Bea dan Cukai ----------------------------------------------------------------------------

BEA_CUKAI = DemoAgency(
    key="bea-cukai",
    kind="vertical",
    name=lambda r: f"Kantor Pengawasan dan Pelayanan Bea dan Cukai {r.town}",
    services=(
        DemoService(
            "registrasi-imei",
            lambda r: {
                "name": "Registrasi IMEI Perangkat dari Luar Negeri",
                "description": "Pendaftaran IMEI telepon seluler, komputer genggam, dan tablet "
                "yang "
                "dibawa penumpang dari luar negeri, beserta penghitungan bea masuk dan pajaknya.",
                "category": "kepabeanan",
                "keywords": ["imei", "handphone", "ponsel", "barang bawaan", "bea masuk"],
                "region_codes": [r.code[:2]],
                "requirements": [
                    _req("paspor", "Paspor"),
                    _req("boarding_pass", "Boarding pass atau tiket kedatangan"),
                    _req("invoice", "Invoice pembelian perangkat", mandatory=False),
                ],
                "procedure": [
                    "Penumpang mengisi data perangkat dan IMEI.",
                    "Petugas menghitung bea masuk dan pajak dalam rangka impor bila melebihi "
                    "pembebasan USD 500.",
                    "Setelah pembayaran, IMEI didaftarkan ke Kementerian Perindustrian.",
                ],
                "stages": _stages(
                    ("penelitian", "Penelitian data perangkat"),
                    ("pembayaran", "Pembayaran bea dan pajak"),
                    ("registrasi", "Registrasi IMEI"),
                ),
                "sla_working_days": 1,
                "fee": {
                    "amount_idr": 0,
                    "note": "Bea masuk 10% dan PDRI atas nilai di atas USD 500",
                },
                "output": "IMEI terdaftar dan bukti pembayaran",
                "legal_basis": ["Peraturan Menteri Keuangan Nomor 203/PMK.04/2017"],
                "complaint_channel": "Contact center Bravo Bea Cukai 1500225",
                "channels": ["online", "counter"],
                "form_schema": form(
                    {
                        "passport_number": text("Nomor paspor", 20),
                        "arrival_date": {**forms.DATE, "title": "Tanggal kedatangan"},
                        "imei": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 2,
                            "items": {"type": "string", "pattern": "^[0-9]{15}$"},
                            "title": "IMEI",
                        },
                        "price_usd": {"type": "number", "minimum": 0, "title": "Harga (USD)"},
                    },
                    ["nik", "full_name", "passport_number", "arrival_date", "imei"],
                    base=CONTACT,
                ),
                "prefill": CONTACT_PREFILL,
            },
        ),
    ),
)

# --- PDAM -------------------------------------------------------------------------------------

PDAM = DemoAgency(
    key="pdam",
    kind="bumd",
    name=lambda r: f"Perumda Air Minum {r.town}",
    services=(
        DemoService(
            "sambungan-baru",
            lambda r: {
                "name": "Pemasangan Sambungan Air Baru",
                "description": "Pendaftaran dan pemasangan sambungan air minum baru untuk rumah "
                "tangga, usaha, dan sosial di wilayah layanan PDAM.",
                "category": "utilitas",
                "keywords": ["pdam", "air minum", "air bersih", "sambungan baru", "pasang air"],
                "region_codes": [r.code],
                "requirements": [
                    _req("ktp", "KTP-el pemohon"),
                    _req("denah", "Denah lokasi rumah", types=IMAGE),
                    _req("rekening_listrik", "Rekening listrik bulan terakhir", mandatory=False),
                ],
                "procedure": [
                    "Pemohon mendaftar dan mengunggah persyaratan.",
                    "Petugas melakukan survei lokasi dan jaringan pipa.",
                    "Pemohon membayar biaya pemasangan.",
                    "Sambungan dan meter air dipasang.",
                ],
                "stages": _stages(
                    ("survei", "Survei lokasi"),
                    ("pembayaran", "Pembayaran biaya pemasangan"),
                    ("pemasangan", "Pemasangan sambungan"),
                ),
                "sla_working_days": 10,
                "fee": {
                    "amount_idr": 1500000,
                    "note": "Biaya pemasangan sambungan rumah tangga "
                    "termasuk meter air; dapat diangsur",
                },
                "output": "Sambungan air minum terpasang dan nomor pelanggan",
                "legal_basis": [
                    "Peraturan Pemerintah Nomor 122 Tahun 2015 tentang Sistem Penyediaan Air Minum"
                ],
                "complaint_channel": f"Call center Perumda Air Minum {r.town} atau SP4N-LAPOR!",
                "channels": ["online", "counter"],
                "form_schema": form(
                    {
                        "customer_class": choice(
                            "Golongan pelanggan", ["rumah_tangga", "niaga", "sosial", "instansi"]
                        ),
                        "installation_address": text("Alamat pemasangan", 300),
                        "household_size": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 50,
                            "title": "Jumlah penghuni",
                        },
                    },
                    ["nik", "full_name", "phone", "customer_class", "installation_address"],
                ),
                "prefill": APPLICANT_PREFILL,
            },
        ),
        DemoService(
            "balik-nama-pelanggan",
            lambda r: {
                "name": "Balik Nama Pelanggan Air",
                "description": "Perubahan nama pelanggan PDAM karena jual beli rumah atau waris.",
                "category": "utilitas",
                "keywords": ["pdam", "balik nama", "pelanggan air", "ganti nama"],
                "region_codes": [r.code],
                "requirements": [
                    _req("ktp", "KTP-el pemilik baru"),
                    _req("bukti_kepemilikan", "Bukti kepemilikan rumah"),
                    _req("rekening_air", "Rekening air terakhir yang lunas"),
                ],
                "procedure": [
                    "Pemohon mengajukan balik nama dan mengunggah persyaratan.",
                    "Petugas memeriksa tunggakan dan berkas.",
                    "Data pelanggan diperbarui.",
                ],
                "stages": _stages(
                    ("pemeriksaan", "Pemeriksaan berkas"), ("perubahan", "Perubahan data pelanggan")
                ),
                "sla_working_days": 3,
                "fee": {"amount_idr": 50000, "note": "Biaya administrasi balik nama"},
                "output": "Data pelanggan atas nama pemilik baru",
                "legal_basis": [
                    f"Peraturan Direksi Perumda Air Minum {r.town} tentang Pelayanan Pelanggan"
                ],
                "complaint_channel": f"Call center Perumda Air Minum {r.town} atau SP4N-LAPOR!",
                "channels": ["online", "counter"],
                "form_schema": form(
                    {
                        "customer_number": {
                            "type": "string",
                            "pattern": "^[0-9]{6,12}$",
                            "title": "Nomor pelanggan",
                        },
                        "previous_owner": text("Nama pelanggan lama", 100),
                    },
                    ["nik", "full_name", "customer_number", "previous_owner"],
                ),
                "prefill": APPLICANT_PREFILL,
            },
        ),
    ),
)

# --- the regional bank ------------------------------------------------------------------------

BANK = DemoAgency(
    key="bank",
    kind="bumd",
    name=lambda r: r.bank,
    services=(
        DemoService(
            "pembukaan-rekening",
            lambda r: {
                "name": "Pembukaan Rekening Tabungan",
                "description": f"Pembukaan rekening tabungan perorangan di {r.bank}, termasuk "
                "tabungan untuk pembayaran pajak daerah dan penerimaan bantuan sosial.",
                "category": "perbankan",
                "keywords": ["rekening", "tabungan", "bank", "buka rekening", "bank daerah"],
                "region_codes": [r.code[:2]],
                "requirements": [
                    _req("ktp", "KTP-el"),
                    _req("npwp", "NPWP", mandatory=False),
                ],
                "procedure": [
                    "Nasabah mengisi data diri dan memilih produk tabungan.",
                    "Bank memverifikasi identitas (e-KYC).",
                    "Rekening dibuka dan buku tabungan atau kartu debit diserahkan.",
                ],
                "stages": _stages(
                    ("verifikasi", "Verifikasi identitas"), ("pembukaan", "Pembukaan rekening")
                ),
                "sla_working_days": 1,
                "fee": {"amount_idr": 50000, "note": "Setoran awal minimum"},
                "output": "Rekening tabungan dan kartu debit",
                "legal_basis": [
                    "Peraturan OJK Nomor 22 Tahun 2023 tentang Pelindungan Konsumen "
                    "dan Masyarakat di Sektor Jasa Keuangan"
                ],
                "complaint_channel": f"Layanan pengaduan nasabah {r.bank} atau OJK 157",
                "channels": ["online", "counter"],
                "min_assurance_level": 2,
                "form_schema": form(
                    {
                        "product": choice(
                            "Produk tabungan", ["tabungan_reguler", "simpel", "tabunganku"]
                        ),
                        "occupation": text("Pekerjaan", 100),
                        "monthly_income": choice(
                            "Penghasilan per bulan", ["<5jt", "5-10jt", ">10jt"]
                        ),
                        "email": forms.EMAIL,
                    },
                    ["nik", "full_name", "birth_date", "address", "phone", "product"],
                ),
                "prefill": {**APPLICANT_PREFILL, "email": "email"},
            },
        ),
    ),
)

# --- BPJS -------------------------------------------------------------------------------------

BPJS_KESEHATAN = DemoAgency(
    key="bpjs-kesehatan",
    kind="bumn",
    name=lambda r: f"BPJS Kesehatan Kantor Cabang {r.town}",
    services=(
        DemoService(
            "pendaftaran-jkn",
            lambda r: {
                "name": "Pendaftaran Peserta JKN-KIS Mandiri",
                "description": "Pendaftaran peserta Jaminan Kesehatan Nasional segmen Pekerja "
                "Bukan "
                "Penerima Upah (PBPU) beserta seluruh anggota keluarga dalam Kartu Keluarga.",
                "category": "jaminan_sosial",
                "keywords": ["bpjs", "bpjs kesehatan", "jkn", "kis", "asuransi kesehatan"],
                "region_codes": [r.code],
                "requirements": [
                    _req("kk", "Kartu Keluarga"),
                    _req("ktp", "KTP-el"),
                    _req("buku_tabungan", "Halaman depan buku tabungan untuk autodebet"),
                ],
                "procedure": [
                    "Peserta mengisi data keluarga, kelas rawat, dan fasilitas kesehatan tingkat "
                    "pertama.",
                    "BPJS Kesehatan memverifikasi data kependudukan.",
                    "Virtual account diterbitkan; kartu aktif 14 hari setelah pembayaran pertama.",
                ],
                "stages": _stages(
                    ("verifikasi", "Verifikasi data"),
                    ("aktivasi", "Penerbitan virtual account dan aktivasi"),
                ),
                "sla_working_days": 1,
                "fee": {
                    "amount_idr": 0,
                    "note": "Iuran bulanan kelas 1 Rp150.000, kelas 2 "
                    "Rp100.000, kelas 3 Rp42.000 per orang",
                },
                "output": "Kartu Indonesia Sehat (KIS) digital dan nomor virtual account",
                "legal_basis": [
                    "Undang-Undang Nomor 24 Tahun 2011 tentang BPJS",
                    "Peraturan Presiden Nomor 82 Tahun 2018 tentang Jaminan Kesehatan",
                ],
                "complaint_channel": "BPJS Kesehatan Care Center 165",
                "channels": ["online", "counter"],
                "form_schema": form(
                    {
                        "kk_number": forms.KK_NUMBER,
                        "care_class": choice("Kelas rawat", ["1", "2", "3"]),
                        "primary_clinic": text("Faskes tingkat pertama", 200),
                        "email": forms.EMAIL,
                    },
                    [
                        "nik",
                        "full_name",
                        "birth_date",
                        "address",
                        "phone",
                        "kk_number",
                        "care_class",
                        "primary_clinic",
                    ],
                ),
                "prefill": {**APPLICANT_PREFILL, "email": "email"},
            },
        ),
    ),
)

BPJS_KETENAGAKERJAAN = DemoAgency(
    key="bpjs-ketenagakerjaan",
    kind="bumn",
    name=lambda r: f"BPJS Ketenagakerjaan Kantor Cabang {r.town}",
    services=(
        DemoService(
            "pendaftaran-bpu",
            lambda r: {
                "name": "Pendaftaran Peserta BPJS Ketenagakerjaan Bukan Penerima Upah",
                "description": "Pendaftaran pekerja mandiri (petani, nelayan, pedagang, ojek) "
                "dalam "
                "program Jaminan Kecelakaan Kerja, Jaminan Kematian, dan Jaminan Hari Tua.",
                "category": "jaminan_sosial",
                "keywords": ["bpjs", "bpjs ketenagakerjaan", "jamsostek", "bpu", "pekerja mandiri"],
                "region_codes": [r.code],
                "requirements": [_req("ktp", "KTP-el")],
                "procedure": [
                    "Pekerja mengisi data diri, pekerjaan, dan program yang dipilih.",
                    "Data diverifikasi dengan data kependudukan.",
                    "Kartu peserta digital terbit setelah iuran pertama dibayar.",
                ],
                "stages": _stages(
                    ("verifikasi", "Verifikasi data"), ("kepesertaan", "Penerbitan kartu peserta")
                ),
                "sla_working_days": 1,
                "fee": {"amount_idr": 0, "note": "Iuran JKK dan JKM mulai Rp16.800 per bulan"},
                "output": "Kartu peserta BPJS Ketenagakerjaan digital",
                "legal_basis": [
                    "Undang-Undang Nomor 24 Tahun 2011 tentang BPJS",
                    "Peraturan Pemerintah Nomor 44 Tahun 2015",
                ],
                "complaint_channel": "BPJS Ketenagakerjaan Care 175",
                "channels": ["online", "counter"],
                "form_schema": form(
                    {
                        "occupation": choice(
                            "Pekerjaan", ["petani", "nelayan", "pedagang", "pengemudi", "lainnya"]
                        ),
                        "programs": {
                            "type": "array",
                            "uniqueItems": True,
                            "minItems": 2,
                            "items": {"enum": ["jkk", "jkm", "jht"]},
                            "title": "Program",
                        },
                    },
                    ["nik", "full_name", "birth_date", "phone", "occupation", "programs"],
                ),
                "prefill": APPLICANT_PREFILL,
            },
        ),
        DemoService(
            "klaim-jht",
            lambda r: {
                "name": "Klaim Jaminan Hari Tua (JHT)",
                "description": "Pencairan saldo Jaminan Hari Tua karena berhenti bekerja, pensiun, "
                "atau meninggal dunia.",
                "category": "jaminan_sosial",
                "keywords": ["jht", "klaim", "pencairan", "jaminan hari tua", "bpjs"],
                "region_codes": [r.code],
                "requirements": [
                    _req("kartu_peserta", "Kartu peserta BPJS Ketenagakerjaan"),
                    _req("paklaring", "Surat keterangan berhenti bekerja (paklaring)"),
                    _req("buku_tabungan", "Buku tabungan"),
                ],
                "procedure": [
                    "Peserta mengajukan klaim dan mengunggah dokumen.",
                    "Petugas memverifikasi dan melakukan wawancara daring.",
                    "Saldo JHT ditransfer ke rekening peserta.",
                ],
                "stages": _stages(
                    ("verifikasi", "Verifikasi dokumen"),
                    ("wawancara", "Wawancara"),
                    ("pembayaran", "Pembayaran"),
                ),
                "sla_working_days": 5,
                "fee": {"amount_idr": 0, "note": None},
                "output": "Pembayaran saldo JHT ke rekening peserta",
                "legal_basis": ["Peraturan Menteri Ketenagakerjaan Nomor 4 Tahun 2022"],
                "complaint_channel": "BPJS Ketenagakerjaan Care 175",
                "channels": ["online", "counter"],
                "min_assurance_level": 2,
                "form_schema": form(
                    {
                        "member_number": {
                            "type": "string",
                            "pattern": "^[0-9]{11}$",
                            "title": "Nomor peserta",
                        },
                        "reason": choice(
                            "Sebab klaim",
                            ["berhenti_bekerja", "pensiun", "meninggal_dunia", "cacat_total"],
                        ),
                        "bank_account": text("Nomor rekening", 30),
                    },
                    ["nik", "full_name", "member_number", "reason", "bank_account"],
                ),
                "prefill": APPLICANT_PREFILL,
            },
        ),
    ),
)

DEMO_AGENCIES: tuple[DemoAgency, ...] = (
    DUKCAPIL,
    BPKD,
    DISNAKER,
    DPMPTSP,
    IMIGRASI,
    BEA_CUKAI,
    PDAM,
    BANK,
    BPJS_KESEHATAN,
    BPJS_KETENAGAKERJAAN,
)


def demo_agency_id(region_code: str, agency_key: str) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, f"agency:{region_code}:{agency_key}")


def demo_service_id(region_code: str, agency_key: str, service_code: str) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, f"service:{region_code}:{agency_key}:{service_code}")


def demo_location_id(region_code: str) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, f"location:{region_code}")


def demo_counter_id(region_code: str, agency_key: str) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, f"counter:{region_code}:{agency_key}")


# The ids the seed stories of other services use most, spelled out.
SAMARINDA_DUKCAPIL_ID = demo_agency_id("64.72", "dukcapil")
SAMARINDA_KTP_EL_ID = demo_service_id("64.72", "dukcapil", "ktp-el")
SAMARINDA_AKTA_KELAHIRAN_ID = demo_service_id("64.72", "dukcapil", "akta-kelahiran")
PENAJAM_DUKCAPIL_ID = demo_agency_id("64.09", "dukcapil")
PENAJAM_KTP_EL_ID = demo_service_id("64.09", "dukcapil", "ktp-el")
LANGSA_BANK_ACEH_ID = demo_agency_id("11.74", "bank")


def demo_ids() -> list[tuple[str, str, uuid.UUID]]:
    """(kind, name, id) of every demo agency, service and location, in seed order."""
    out: list[tuple[str, str, uuid.UUID]] = []
    for region in DEMO_REGIONS:
        out.append(
            ("location", f"Mal Pelayanan Publik {region.place}", demo_location_id(region.code))
        )
        for agency in DEMO_AGENCIES:
            out.append(("agency", agency.name(region), demo_agency_id(region.code, agency.key)))
            for service in agency.services:
                out.append(
                    (
                        "service",
                        f"{service.build(region)['name']} — {agency.name(region)}",
                        demo_service_id(region.code, agency.key, service.code),
                    )
                )
    return out
