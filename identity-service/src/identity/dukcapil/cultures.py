"""Content of the synthetic population: naming customs, religions and origins of the peoples
living in the demo regencies, and how each regency's population is made up.

This is content for a generator, not reference data: the names are common Indonesian names,
the shares are rough. Regions are named here by their Kemendagri names and resolved through
``mpp_shared.reference.regions``, so a name that does not exist fails loudly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from identity.dukcapil.registry import Gender

ISLAM = "ISLAM"
KRISTEN = "KRISTEN"
KATHOLIK = "KATHOLIK"
HINDU = "HINDU"
BUDHA = "BUDHA"
KHONGHUCU = "KHONGHUCU"
KEPERCAYAAN = "KEPERCAYAAN TERHADAP TUHAN YME"
CHRISTIAN = (KRISTEN, KATHOLIK)

# How a family line shows in a name: a Batak marga ("BR" before a woman's), a surname, a
# hereditary title before the name (Aceh's Teuku/Cut, Bugis Andi), or Balinese birth-order
# names (Wayan, Made, Nyoman, Ketut).
LineageStyle = Literal["none", "marga", "surname", "title", "bali"]

# Given names parents chose from the mid-1990s on, across the Muslim majority.
_MODERN_MALE = (
    "MUHAMMAD", "RIZKY", "FARHAN", "ALIF", "DIMAS", "RAFI", "FADHIL", "ARKAN", "AZKA", "DAFFA",
    "FATHIR", "HAIKAL", "RAKA", "ILHAM", "AKBAR", "BAGUS", "REVAN", "ZIDAN", "GIBRAN", "ARYA",
)  # fmt: skip
_MODERN_MALE_SECOND = (
    "PRATAMA", "SAPUTRA", "RAMADHAN", "MAULANA", "FIRMANSYAH", "HIDAYAT", "KURNIAWAN",
    "ALFARIZI", "AL FATIH", "NUGRAHA", "ADITYA", "PUTRA", "ARDIANSYAH", "SYAHPUTRA",
)  # fmt: skip
_MODERN_FEMALE = (
    "NAYLA", "AISYAH", "ZAHRA", "NABILA", "AULIA", "SALSABILA", "KEISHA", "AZZAHRA", "CANTIKA",
    "PUTRI", "ANINDYA", "KHANZA", "ALYA", "SYIFA", "HANIFA", "DINDA", "AMANDA", "NAURA",
)  # fmt: skip
_MODERN_FEMALE_SECOND = (
    "PUTRI", "RAMADHANI", "AZZAHRA", "NURAINI", "SAFITRI", "AMELIA", "KIRANA", "LESTARI",
    "ANGGRAINI", "MAHARANI", "RAHMADANI", "APRILIA", "FEBRIANTI", "OKTAVIANI",
)  # fmt: skip
_CHRISTIAN_MALE = (
    "YOHANES", "ANDREAS", "AGUSTINUS", "YULIUS", "FRANSISKUS", "PETRUS", "PAULUS", "STEFANUS",
    "MARKUS", "DANIEL", "SAMUEL", "YOSEF", "ALBERTUS", "MATIUS",
)  # fmt: skip
_CHRISTIAN_FEMALE = (
    "MARIA", "MAGDALENA", "YOHANA", "ELISABETH", "LUSIA", "MARTHA", "AGNES", "KRISTINA",
    "VERONIKA", "THERESIA", "ANASTASIA", "MARGARETHA", "CHRISTINE", "RUTH",
)  # fmt: skip


def _n(names: str) -> tuple[str, ...]:
    """A comma-separated list of names (content reads better as text than as tuples)."""
    return tuple(name.strip() for name in names.split(","))


@dataclass(frozen=True, slots=True)
class Culture:
    """A people's naming custom, religions and the regencies its migrants come from."""

    key: str
    religions: tuple[tuple[str, float], ...]
    male: tuple[str, ...]
    female: tuple[str, ...]
    words: tuple[int, int] = (1, 2)  # how many given names
    lineage: LineageStyle = "none"
    lineages: tuple[str, ...] = ()  # marga, surnames or titles
    lineage_share: float = 1.0  # the share of families that carry one
    modern: bool = True  # young Muslims get the names of their generation
    homeland: tuple[str, ...] = ()  # Kemendagri regency names migrants were born in

    def religion(self, rng: random.Random) -> str:
        return rng.choices([r for r, _ in self.religions], [w for _, w in self.religions])[0]

    def family_line(self, rng: random.Random) -> str | None:
        if self.lineage == "none" or rng.random() >= self.lineage_share:
            return None
        if self.lineage == "bali":
            return "BALI"
        return rng.choice(self.lineages)

    def full_name(
        self,
        rng: random.Random,
        *,
        gender: Gender,
        birth_year: int,
        religion: str,
        line: str | None,
        birth_order: int = 1,
    ) -> str:
        pool = self.male if gender == "L" else self.female
        if self.modern and religion == ISLAM and birth_year >= 1995 and rng.random() < 0.7:
            first = _MODERN_MALE if gender == "L" else _MODERN_FEMALE
            second = _MODERN_MALE_SECOND if gender == "L" else _MODERN_FEMALE_SECOND
            given = [rng.choice(first)]
            if rng.random() < 0.85:
                given.append(rng.choice(second))
        else:
            count = rng.randint(*self.words)
            given = _distinct(rng, pool, count)
            if (
                religion in CHRISTIAN
                and self.religions[0][0] not in CHRISTIAN
                and rng.random() < 0.6
            ):
                given[0] = rng.choice(_CHRISTIAN_MALE if gender == "L" else _CHRISTIAN_FEMALE)
        # An abbreviation (MOH., ABD., MHD.) stands first, as in MOH. HASAN.
        given.sort(key=lambda part: not part.endswith("."))
        name = " ".join(given)
        if line is None:
            return name
        if self.lineage == "marga":
            return f"{name} BR {line}" if gender == "P" else f"{name} {line}"
        if self.lineage == "surname":
            return f"{name} {line}"
        if self.lineage == "title":
            male_title, _, female_title = line.partition("/")
            title = male_title if gender == "L" else female_title
            return f"{title} {name}" if title else name
        # Balinese: the birth-order name, then the given name.
        order = ("WAYAN", "MADE", "NYOMAN", "KETUT")[(birth_order - 1) % 4]
        return f"{'I' if gender == 'L' else 'NI'} {order} {given[-1]}"


def _distinct(rng: random.Random, pool: tuple[str, ...], count: int) -> list[str]:
    chosen: list[str] = []
    while len(chosen) < min(count, len(pool)):
        name = rng.choice(pool)
        if name not in chosen:
            chosen.append(name)
    return chosen


_JAVA_EAST = _n(
    "Kabupaten Malang, Kabupaten Banyuwangi, Kabupaten Jember, Kota Surabaya, Kabupaten Kediri, "
    "Kabupaten Lamongan, Kabupaten Blitar, Kabupaten Ngawi, Kabupaten Tulungagung, Kabupaten "
    "Ponorogo"
)

CULTURES: dict[str, Culture] = {
    c.key: c
    for c in (
        Culture(
            key="aceh",
            religions=(("ISLAM", 1.0),),
            male=_n(
                "MUHAMMAD, RIZKI, FADHIL, ZULFIKAR, AZHARI, MUNAWAR, SYAHRUL, IKHSAN, HASBALLAH, "
                "FAISAL, KHAIRUL, MAULANA, SAIFUL, JAMALUDDIN, NAZARUDDIN, MUKHLIS, RAHMAT, "
                "IRFAN, HELMI, BUKHARI, ANSHAR, SAFRIZAL, MAHYUDDIN, FIRDAUS, TARMIZI, ISKANDAR, "
                "YUSRI"
            ),
            female=_n(
                "NURUL, AINI, RAHMI, MULYANI, FITRIANI, NURHALIZA, SAFRIANA, ZAHRATUL, MARDHIAH, "
                "AISYAH, HAFSAH, MUNAWARAH, YUSNIDAR, RATNA, NURMALA, INTAN, SAFIRA, RAUDHATUL, "
                "JANNAH, HUSNA, ZURAIDA"
            ),
            lineage="title",
            lineages=_n("TEUKU/CUT, T./CUT"),
            lineage_share=0.1,
            homeland=_n(
                "Kota Banda Aceh, Kabupaten Aceh Timur, Kabupaten Aceh Tamiang, Kota Lhokseumawe, "
                "Kabupaten Pidie, Kabupaten Bireuen, Kabupaten Aceh Utara"
            ),
        ),
        Culture(
            key="malay",
            religions=(("ISLAM", 1.0),),
            male=_n(
                "AHMAD, ZAINAL, SYAMSUL, RAHMAN, ABDUL, HAMZAH, JUNAIDI, RUSLI, AZMI, FAHMI, "
                "HARIS, RIDWAN, SYAFRIL, ZULKIFLI, MAHMUD, ZAINUDDIN"
            ),
            female=_n(
                "SITI, NURHAYATI, ZURAIDA, ROHANI, NORMA, FAUZIAH, MASNAH, SALMAH, HASNAH, "
                "JULIANA, RAHMAH, SARIPAH, ZAITUN, AMINAH"
            ),
            lineage="title",
            lineages=_n("TENGKU/TENGKU, DATUK/"),
            lineage_share=0.05,
            homeland=_n("Kabupaten Batu Bara, Kabupaten Langkat, Kabupaten Deli Serdang"),
        ),
        Culture(
            key="javanese",
            religions=(("ISLAM", 0.95), ("KRISTEN", 0.03), ("KATHOLIK", 0.02)),
            male=_n(
                "AGUS, BUDI, SUGENG, SLAMET, JOKO, BAMBANG, EKO, DWI, HERU, TRI, WAHYU, ADI, "
                "PRASETYO, SANTOSO, SETIAWAN, SUTRISNO, SUPRIYADI, WIBOWO, NUGROHO, HARYANTO, "
                "RIYADI, PURNOMO, HIDAYAT, RUDI, SUGIONO, SUPARNO, WIDODO, SUKARDI, TEGUH"
            ),
            female=_n(
                "SRI, WAHYUNI, SITI, ENDANG, LESTARI, RAHAYU, DEWI, TITIK, PUJI, ASTUTI, YULIANI, "
                "WULANDARI, KARTIKA, NINGSIH, SUMARNI, SUPARMI, RATNA, INDAH, TUTIK, ANIK, "
                "SULASTRI, SUMIATI, WATI"
            ),
            homeland=(*_JAVA_EAST, *_n("Kabupaten Klaten, Kabupaten Wonogiri, Kabupaten Sleman")),
        ),
        Culture(
            key="madurese",
            religions=(("ISLAM", 1.0),),
            male=_n(
                "MOH., ABD., HASAN, SHOLEH, ROHMAN, SAMSUL, ARIFIN, FAUZI, HOLIL, SUBAIDI, "
                "MATRAWI, SUHAIRI, JUMARI, NURHOLIS, BAHRUL, ULUM, MUSTOFA, RASYID, HOLILUR, "
                "SUNARTO"
            ),
            female=_n(
                "SITI, ASIYAH, MAIMUNAH, SUMIATI, HOLIFAH, JAMILAH, MUSAROFAH, NURHAYATI, "
                "RUKAYAH, SITTI, FATIMAH, HALIMAH, SAMSIYAH, MUNAWAROH"
            ),
            words=(2, 2),
            homeland=_n(
                "Kabupaten Bangkalan, Kabupaten Sampang, Kabupaten Pamekasan, Kabupaten Sumenep, "
                "Kabupaten Situbondo"
            ),
        ),
        Culture(
            key="batak_toba",
            religions=(("KRISTEN", 0.84), ("KATHOLIK", 0.13), ("ISLAM", 0.03)),
            male=_n(
                "DANIEL, YOHANES, JONNI, MARTUA, PARLINDUNGAN, BONAR, TUMPAL, HOTMAN, RUDOLF, "
                "SAHAT, POLTAK, JANSEN, DAVID, ROY, ANDREAS, BENNY, FREDY, HENRY, TOGAR, BINSAR, "
                "JOSUA, RICARDO"
            ),
            female=_n(
                "MARIA, ROSDIANA, DUMARIA, LAMRIA, TIURMA, RUGUN, SONDANG, HOTMAULI, LINDA, "
                "ROSMAWATI, ERNA, DESI, MELATI, NOVITA, YOLANDA, ELISABETH, RUTH, DEBORA, RIRIS, "
                "JULIANA"
            ),
            lineage="marga",
            lineages=_n(
                "SIMATUPANG, SITORUS, MANURUNG, SINAGA, PANJAITAN, HUTAGALUNG, SIMANJUNTAK, "
                "SIAHAAN, NAPITUPULU, SIREGAR, PARDEDE, SIANIPAR, TAMBUNAN, SILALAHI, GULTOM, "
                "PANGGABEAN, SIMANGUNSONG, SIHOMBING, MARPAUNG, PASARIBU, SIMAMORA, SITUMORANG, "
                "TAMPUBOLON"
            ),
            modern=False,
            homeland=_n(
                "Kabupaten Toba, Kabupaten Tapanuli Utara, Kabupaten Samosir, Kabupaten Humbang "
                "Hasundutan, Kota Pematangsiantar, Kota Medan"
            ),
        ),
        Culture(
            key="mandailing",
            religions=(("ISLAM", 1.0),),
            male=_n(
                "AHMAD, MUHAMMAD, ABDUL, SYAHRIL, RAMLAN, MHD., PARLAUNGAN, ISKANDAR, MUCHTAR, "
                "AMIR, RIDWAN, ZULKARNAIN, HASAN, BASRI"
            ),
            female=_n(
                "SITI, NURHAYATI, RAHMAWATI, MASDALIFAH, ROSMIDA, HALIMAH, NURHAMIDAH, SAKINAH, "
                "ROSLINA, ASNIDAR, NURLELA"
            ),
            lineage="marga",
            lineages=_n(
                "NASUTION, LUBIS, HARAHAP, HASIBUAN, DAULAY, RANGKUTI, BATUBARA, PULUNGAN, "
                "RITONGA, SIREGAR, PANE, MATONDANG, DALIMUNTHE"
            ),
            homeland=_n(
                "Kabupaten Mandailing Natal, Kabupaten Tapanuli Selatan, Kota Padangsidimpuan, "
                "Kabupaten Labuhanbatu"
            ),
        ),
        Culture(
            key="chinese",
            religions=(("BUDHA", 0.55), ("KRISTEN", 0.22), ("KATHOLIK", 0.15), ("KHONGHUCU", 0.08)),
            male=_n(
                "HENDRA, BUDI, RUDY, WILLIAM, JOHNNY, KEVIN, STEVEN, HARTONO, SUSANTO, ANTONI, "
                "FELIX, EDWARD, VINCENT, DARWIN, ALBERT, JIMMY"
            ),
            female=_n(
                "SUSANTI, LILY, MELIANA, FENNY, JESSICA, WENNY, LINDA, CINDY, VERONIKA, MEILINDA, "
                "YULIANA, NATALIA, LIANA, SHERLY, VIVIAN"
            ),
            words=(1, 1),
            lineage="surname",
            lineages=_n(
                "WIJAYA, GUNAWAN, HALIM, TANOTO, SANTOSO, KUSUMA, SALIM, LIMANTO, TANJAYA, "
                "SUTANTO, LIMAN, TJANDRA, HARTANTO, WIBISONO"
            ),
            lineage_share=0.9,
            modern=False,
            homeland=_n("Kota Medan, Kota Surabaya, Kota Singkawang, Kota Pontianak"),
        ),
        Culture(
            key="banjar",
            religions=(("ISLAM", 1.0),),
            male=_n(
                "MUHAMMAD, AHMAD, ARBAIN, SYARIFUDDIN, NOOR, HASANUDDIN, RAHMADI, JAMHARI, "
                "FAHRUDDIN, ASPIANNOR, RIDUAN, MASRANI, ABDUL, SYAHRANI, HAMIDHAN, BASRIANSYAH, "
                "RUSDIANSYAH, ZAINUDDIN"
            ),
            female=_n(
                "SITI, NOORLATIFAH, ARBAIYAH, RAHMAH, NORHASANAH, JAMILAH, MASLIANI, NORAINI, "
                "HALIMATUS, SADIAH, NORJANAH, MAHMUDAH, RUSMINI"
            ),
            lineage="title",
            lineages=_n("GUSTI/GUSTI"),
            lineage_share=0.04,
            homeland=_n(
                "Kota Banjarmasin, Kabupaten Banjar, Kabupaten Hulu Sungai Selatan, Kabupaten "
                "Hulu Sungai Utara"
            ),
        ),
        Culture(
            key="bugis",
            religions=(("ISLAM", 1.0),),
            male=_n(
                "MUHAMMAD, ARIFUDDIN, SYAMSUDDIN, AMIRUDDIN, HERMAN, BASO, SUDIRMAN, HASANUDDIN, "
                "ALIMUDDIN, IRWAN, JUMADI, MUSTAFA, SYAHRIR, NASRUL, TAUFIK, AGUSSALIM, BAHTIAR, "
                "MAKMUR"
            ),
            female=_n(
                "HASNAWATI, NURHAEDAH, MARHAMAH, SITTI, MUSDALIFAH, HASMAWATI, RAHMAWATI, "
                "NURLAELA, HAJRAH, ISMAWATI, HARLINA, NURHAYATI, MURNI"
            ),
            lineage="title",
            lineages=_n("ANDI/ANDI"),
            lineage_share=0.2,
            homeland=_n(
                "Kota Makassar, Kabupaten Bone, Kabupaten Wajo, Kabupaten Soppeng, Kota Parepare, "
                "Kabupaten Sidenreng Rappang"
            ),
        ),
        Culture(
            key="kutai",
            religions=(("ISLAM", 1.0),),
            male=_n(
                "ABDUL, SYAHRANI, ASRANI, HAMDANI, RUSDIANSYAH, ARIFIN, SAPARUDDIN, JUHANSYAH, "
                "HERRIANSYAH, ZULKIFLI, IRWANSYAH, MASRANSYAH"
            ),
            female=_n(
                "NORHAYATI, JULEHA, MARLIANI, RAHMAWATI, SITI, ASMAH, NORMASARI, HERLINA, "
                "SARINAH, JAHRAH, MASITAH"
            ),
            lineage="title",
            lineages=_n("AJI/AJI"),
            lineage_share=0.05,
            homeland=_n("Kabupaten Kutai Kartanegara, Kabupaten Kutai Timur, Kota Bontang"),
        ),
        Culture(
            key="paser",
            religions=(("ISLAM", 0.97), ("KRISTEN", 0.03)),
            male=_n(
                "ABDUL, ARDIANSYAH, JUNAIDI, SAHRANI, HAMSYAH, RIDWAN, ANWAR, IDRIS, RAMLI, "
                "SYAMSUDIN, HERMANSYAH"
            ),
            female=_n(
                "MASNI, RUSMINI, NURSIAH, SARIPAH, JAHRAH, HALIMAH, ROSNANI, SARIAH, NORSIAH, ASIAH"
            ),
            homeland=_n("Kabupaten Paser"),
        ),
        Culture(
            key="dayak",
            religions=(
                ("KRISTEN", 0.52),
                ("KATHOLIK", 0.38),
                ("KEPERCAYAAN TERHADAP TUHAN YME", 0.04),
                ("ISLAM", 0.06),
            ),
            male=_n(
                "YOHANES, MARKUS, PETRUS, LUSANG, IMANG, ANYE, JALUNG, BAYAU, STEFANUS, YOSEF, "
                "PAULUS, ALBERTUS, LAWING, LEDJI, HUVANG"
            ),
            female=_n(
                "MARIA, YOHANA, LUSIA, ANASTASIA, ULAU, BUNGA, MARGARETHA, KRISTINA, AGNES, "
                "ELISABETH, LIDIA, DELFINA"
            ),
            words=(2, 2),
            modern=False,
            homeland=_n("Kabupaten Kutai Barat, Kabupaten Mahakam Ulu, Kabupaten Malinau"),
        ),
        Culture(
            key="toraja",
            religions=(("KRISTEN", 0.8), ("KATHOLIK", 0.15), ("ISLAM", 0.05)),
            male=_n(
                "YOHANIS, MARKUS, SAMUEL, DANIEL, ELIAS, ROBERT, FRANS, YULIUS, SIMON, PETRUS, "
                "LUKAS"
            ),
            female=_n(
                "MARTHA, YULIANA, DORKAS, RACHEL, MARLINA, SELVI, YOHANA, MARIANI, RIBKA, LEA"
            ),
            words=(1, 1),
            lineage="surname",
            lineages=_n(
                "PATANDUK, PAONGANAN, RANTE, PALIMBONG, SAMPE, TANDI, PAKIDING, RANTELINO, LANDE, "
                "PASANG, TANGDILINTIN"
            ),
            modern=False,
            homeland=_n("Kabupaten Tana Toraja, Kabupaten Toraja Utara"),
        ),
        Culture(
            key="balinese",
            religions=(("HINDU", 1.0),),
            male=_n(
                "SUDIARTA, ARIMBAWA, SUARTANA, WIRAWAN, ADNYANA, ARDANA, SUPARTA, DARMAWAN, "
                "SUKADANA, ASTAWA, MERTAYASA, ARTAWAN"
            ),
            female=_n(
                "SUKMAWATI, SUARNI, ARIANI, DEWI, ASTITI, SRIASIH, PURNAMI, KARIASIH, WIDIASTUTI, "
                "SUMARNI, YULIANTARI"
            ),
            words=(1, 1),
            lineage="bali",
            modern=False,
            homeland=_n("Kabupaten Buleleng, Kabupaten Tabanan, Kabupaten Gianyar"),
        ),
    )
}


@dataclass(frozen=True, slots=True)
class RegencyProfile:
    """Who lives in a demo regency, how many of the population are there, where else its
    people were born, and which of them live by the sea or the plantations."""

    code: str
    weight: float  # share of the synthetic population (roughly the real populations)
    cultures: tuple[tuple[str, float], ...]
    nearby: tuple[str, ...]  # regencies people move in from, whatever their culture
    occupations: tuple[tuple[str, float], ...] = field(default=())  # extra local trades
    streets: tuple[str, ...] = ()

    def culture(self, rng: random.Random) -> Culture:
        keys, weights = zip(*self.cultures, strict=True)
        return CULTURES[rng.choices(keys, weights)[0]]


DEMO_REGENCIES: tuple[RegencyProfile, ...] = (
    RegencyProfile(
        code="64.09",  # Kabupaten Penajam Paser Utara
        weight=0.10,
        cultures=(
            ("javanese", 0.35),
            ("bugis", 0.25),
            ("banjar", 0.14),
            ("paser", 0.14),
            ("balinese", 0.04),
            ("dayak", 0.04),
            ("toraja", 0.04),
        ),
        nearby=("Kota Balikpapan", "Kabupaten Paser", "Kota Samarinda"),
        occupations=(("NELAYAN/PERIKANAN", 4.0), ("BURUH TANI/PERKEBUNAN", 4.0)),
        streets=("PROPINSI", "NUSANTARA", "KH. ACHMAD DAHLAN", "SULTAN HASANUDDIN"),
    ),
    RegencyProfile(
        code="11.74",  # Kota Langsa
        weight=0.09,
        cultures=(("aceh", 0.86), ("javanese", 0.07), ("mandailing", 0.03), ("chinese", 0.04)),
        nearby=("Kabupaten Aceh Timur", "Kabupaten Aceh Tamiang", "Kota Medan"),
        occupations=(("NELAYAN/PERIKANAN", 3.0),),
        streets=("TEUKU UMAR", "CUT NYAK DHIEN", "PANGLIMA POLEM", "SULTAN ISKANDAR MUDA"),
    ),
    RegencyProfile(
        code="64.72",  # Kota Samarinda
        weight=0.36,
        cultures=(
            ("banjar", 0.32),
            ("javanese", 0.26),
            ("bugis", 0.2),
            ("kutai", 0.08),
            ("dayak", 0.05),
            ("toraja", 0.05),
            ("chinese", 0.04),
        ),
        nearby=("Kabupaten Kutai Kartanegara", "Kota Balikpapan", "Kota Bontang"),
        occupations=(("BURUH HARIAN LEPAS", 2.0),),
        streets=("P. ANTASARI", "M.T. HARYONO", "JUANDA", "SLAMET RIYADI", "KADRIE OENING"),
    ),
    RegencyProfile(
        code="35.74",  # Kota Probolinggo
        weight=0.11,
        cultures=(("javanese", 0.55), ("madurese", 0.41), ("chinese", 0.03), ("balinese", 0.01)),
        nearby=("Kabupaten Probolinggo", "Kabupaten Pasuruan", "Kabupaten Lumajang"),
        occupations=(("NELAYAN/PERIKANAN", 3.0),),
        streets=("SOEKARNO HATTA", "DR. SOETOMO", "KH. HASYIM ASYARI", "PANGLIMA SUDIRMAN"),
    ),
    RegencyProfile(
        code="12.09",  # Kabupaten Asahan
        weight=0.34,
        cultures=(
            ("javanese", 0.36),
            ("malay", 0.22),
            ("batak_toba", 0.25),
            ("mandailing", 0.12),
            ("chinese", 0.05),
        ),
        nearby=("Kota Tanjungbalai", "Kabupaten Batu Bara", "Kota Medan", "Kabupaten Simalungun"),
        occupations=(("BURUH TANI/PERKEBUNAN", 8.0), ("NELAYAN/PERIKANAN", 2.0)),
        streets=("SISINGAMANGARAJA", "IMAM BONJOL", "COKROAMINOTO", "DIPONEGORO"),
    ),
)

COMMON_STREETS = (
    "MERDEKA", "JENDERAL SUDIRMAN", "AHMAD YANI", "DIPONEGORO", "PAHLAWAN", "GATOT SUBROTO",
    "KARTINI", "PERINTIS KEMERDEKAAN", "KESEHATAN", "PENDIDIKAN", "MELATI", "MAWAR",
    "ANGGREK", "KENANGA", "CEMPAKA", "FLAMBOYAN", "BERINGIN", "PELITA", "BHAYANGKARA",
    "PERJUANGAN", "SEJAHTERA", "DAMAI", "DURIAN", "RAMBUTAN", "MANGGA", "SEROJA", "SEMANGKA",
)  # fmt: skip
HAMLETS = (
    "KRAJAN", "SUKAMAJU", "SUKAMAKMUR", "SIDOMULYO", "MEKAR JAYA", "SUMBER REJO", "TANJUNG",
    "SIDODADI", "KAMPUNG BARU", "SEI BALAI", "MAKMUR JAYA", "SUKA DAMAI",
)  # fmt: skip
ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII")
