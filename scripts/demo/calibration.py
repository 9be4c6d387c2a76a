"""Anchor figures for the demo snapshot, taken from ../shared/FIGURES.md and public population counts.

Every generator takes Espoo's numbers from here so that the demo data are consistent across sources:
HSY emissions (kt CO2e) and Statistics Finland population give the published per-resident figures.
Years not named in FIGURES.md are plausible interpolations, marked as such.
"""

from __future__ import annotations

# Espoo, HSY method, total territorial emissions in kt CO2e.
# Published anchors: 1990 ≈ 1 060 (roadmap 2024 → target 212), 2016 above 1990 and −5 % on 2015,
# 2018 ≈ 1 100 and −4 % on 2017, 2019 −1 %, 2020 −16 %, 2021 → 2022 +8 %, 2022 = 910 (the sector split
# below), 2022 → 2023 −18 %, 2023 = 742 (−30 % on 1990),
# 2024 ≈ −4 % on 2023 (−33 % on 1990).
ESPOO_HSY_TOTAL_KT: dict[int, float] = {
    1990: 1060.0,
    2000: 1150.0,  # interpolated
    2001: 1160.0,
    2002: 1175.0,
    2003: 1230.0,
    2004: 1195.0,
    2005: 1180.0,
    2006: 1225.0,
    2007: 1215.0,
    2008: 1165.0,
    2009: 1185.0,
    2010: 1290.0,
    2011: 1200.0,
    2012: 1210.0,
    2013: 1205.0,
    2014: 1175.0,
    2015: 1214.0,  # 2016 is −5 % on 2015
    2016: 1153.0,  # 4.2 t per resident
    2017: 1146.0,  # 2018 is −4 % on 2017
    2018: 1100.0,
    2019: 1089.0,  # −1 %
    2020: 915.0,  # −16 %, 3.1 t per resident
    2021: 842.6,  # 2022 is +8 % on 2021 (Espoo CCC 2023, A-1.6: the energy crisis)
    2022: 910.0,  # the sum of HSY's 2022 sector split (ESPOO_HSY_SECTORS_KT); 2023 is −18 % on it
    2023: 742.0,  # −30 % on 1990, 2.4 t per resident
    2024: 712.0,  # ≈ −4 % on 2023, −33 % on 1990
}

# Espoo population at year end (Statistics Finland; 2005–2019 exactly as table 11re, 2022 as published).
ESPOO_POPULATION: dict[int, int] = {
    1990: 172_629,
    1991: 175_866,
    1992: 178_651,
    1993: 182_317,
    1994: 186_507,
    1995: 191_247,
    1996: 196_260,
    1997: 200_834,
    1998: 204_962,
    1999: 209_667,
    2000: 213_271,
    2001: 216_836,
    2002: 221_597,
    2003: 224_231,
    2004: 227_472,
    2005: 231_704,
    2006: 235_019,
    2007: 238_047,
    2008: 241_565,
    2009: 244_330,
    2010: 247_970,
    2011: 252_439,
    2012: 256_824,  # Statistics Finland 11re (realdata)
    2013: 260_753,
    2014: 265_543,
    2015: 269_802,
    2016: 274_583,
    2017: 279_044,
    2018: 283_632,
    2019: 289_731,
    2020: 292_796,
    2021: 297_132,
    2022: 305_274,
    2023: 314_024,
    2024: 320_931,
}

# Helsinki region (HSY: Helsinki + Espoo + Vantaa + Kauniainen) totals, kt CO2e.
REGION_HSY_TOTAL_KT: dict[int, float] = {2015: 5216.0, 2018: 4770.0, 2024: 3200.0}

# Espoo's published sector split (HSY method, kt CO2e), from ../shared/realdata/hsy/ (Espoo Climate City
# Contract 2023, table, source HSY 2023). Published, rounded to whole kt: 1990 district heat 316, oil
# heating 78, electric heating 65, consumer electricity 158 (buildings 616), transport incl. working
# machinery 340, waste 101, agriculture 3, total 1 060; 2022: 332, 56, 56, 129 (573), 314, 22, 1.
# The demo's unrounded values round to every one of those figures, and 1990 adds up to exactly 1 060.0
# (the published parts add up to 1 061: rounding). The published "transport (incl. working machinery)" is
# the tracker's transport (Sektori1 Liikenne) plus industry and machinery (Teollisuus ja työkoneet): Espoo
# has no significant industry, and the 2022 vehicle detail sums to 302 kt, so machinery is 12 kt.
# HSY's calculation has no F-gases: the 944 kt of that table includes 34 kt of F-gases that the city added
# from Syke's data, so HSY's 2022 total is the sum of its sectors, 910 kt. HSY's 2022 headline of 897 kt
# (A-1.6; 2.9 t per resident, −15 % on 1990) is the preliminary figure of the 2023 release; the snapshot
# stands for a later release in which 2022 is the sector sum 910 kt (2023 = 742 kt is then −18 % on 2022,
# as FIGURES.md says), so 897 kt is not reproduced.
ESPOO_HSY_SECTORS_KT: dict[int, dict[str, float]] = {
    1990: {
        "district_heat": 315.6,
        "oil_heating": 77.6,
        "electric_heating": 64.8,
        "consumer_electricity": 157.7,
        "transport": 318.0,  # demo split of the published 340 (transport incl. machinery)
        "industry_machinery": 22.0,
        "waste": 101.3,
        "agriculture": 3.0,
    },
    2022: {
        "district_heat": 332.0,
        "oil_heating": 56.0,
        "electric_heating": 56.0,
        "consumer_electricity": 129.0,
        "transport": 302.0,  # the vehicle detail below
        "industry_machinery": 12.0,  # published transport incl. machinery 314 − 302
        "waste": 22.0,
        "agriculture": 1.0,
    },
}

# Espoo 2022 transport by vehicle (table, kt CO2e), as HSY's (Sektori2, Sektori3).
ESPOO_TRANSPORT_2022_KT: dict[tuple[str, str], float] = {
    ("Tieliikenne", "Henkilöautot"): 172.0,
    ("Tieliikenne", "Moottoripyörät ja mopot"): 6.0,
    ("Tieliikenne", "Pakettiautot"): 26.0,
    ("Tieliikenne", "Kuorma-autot"): 82.0,
    ("Tieliikenne", "Linja-autot"): 5.0,
    ("Raideliikenne", "Lähijunat"): 2.0,
    ("Raideliikenne", "Metrot"): 1.0,
    ("Laivaliikenne", "Huviveneet"): 6.0,
    ("Laivaliikenne", "Ammattiveneet"): 2.0,
}

# Espoo 2022 energy use by sector (table, GWh): district heat, oil heating, electric heating,
# consumer electricity, transport fossil fuels, industrial and machinery fossil fuels.
ESPOO_ENERGY_2022_GWH: dict[str, float] = {
    "district_heat": 1958.0,
    "oil_heating": 166.0,
    "electric_heating": 394.0,
    "consumer_electricity": 1701.0,
    "transport": 1455.0,
    "industry_machinery": 50.0,
}
