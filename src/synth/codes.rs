//! Code lists the synthetic generator draws from. Codes follow the real systems' shapes
//! (17-character JLAC10, 9-digit HOT, 8-digit MEDIS disease key numbers, dotless ICD-10 2013,
//! JAMI 16-digit usage codes); local `99xxx` codes are deliberately mixed in, as hospitals do.
//! Values, ranges and names are plausible, not clinical reference data.

/// A lab test: JLAC10 code, Japanese name, unit, reference range, mean, sd, decimals, specimen.
pub struct Lab {
    pub code: &'static str,
    pub system: &'static str,
    pub name: &'static str,
    pub unit: &'static str,
    pub low: f64,
    pub high: f64,
    pub mean: f64,
    pub sd: f64,
    pub decimals: usize,
    pub specimen: (&'static str, &'static str),
    /// Qualitative results (sent as ST): drawn from these; empty for a numeric (NM) test.
    pub results: &'static [&'static str],
}

const SERUM: (&str, &str) = ("023", "血清");
const BLOOD: (&str, &str) = ("019", "全血");

pub const LABS: &[Lab] = &[
    Lab {
        code: "3A010000002327101",
        system: "JC10",
        name: "総蛋白",
        unit: "g/dL",
        low: 6.6,
        high: 8.1,
        mean: 7.2,
        sd: 0.5,
        decimals: 1,
        specimen: SERUM,
        results: &[],
    },
    Lab {
        code: "3A015000002327101",
        system: "JC10",
        name: "アルブミン",
        unit: "g/dL",
        low: 4.1,
        high: 5.1,
        mean: 4.3,
        sd: 0.4,
        decimals: 1,
        specimen: SERUM,
        results: &[],
    },
    Lab {
        code: "3B035000002327201",
        system: "JC10",
        name: "AST",
        unit: "U/L",
        low: 13.0,
        high: 30.0,
        mean: 25.0,
        sd: 10.0,
        decimals: 0,
        specimen: SERUM,
        results: &[],
    },
    Lab {
        code: "3B045000002327201",
        system: "JC10",
        name: "ALT",
        unit: "U/L",
        low: 7.0,
        high: 23.0,
        mean: 22.0,
        sd: 12.0,
        decimals: 0,
        specimen: SERUM,
        results: &[],
    },
    Lab {
        code: "3B050000002327201",
        system: "JC10",
        name: "LD",
        unit: "U/L",
        low: 124.0,
        high: 222.0,
        mean: 190.0,
        sd: 40.0,
        decimals: 0,
        specimen: SERUM,
        results: &[],
    },
    Lab {
        code: "3C015000002327101",
        system: "JC10",
        name: "クレアチニン",
        unit: "mg/dL",
        low: 0.46,
        high: 0.79,
        mean: 0.8,
        sd: 0.2,
        decimals: 2,
        specimen: SERUM,
        results: &[],
    },
    Lab {
        code: "3H015000002326101",
        system: "JC10",
        name: "カリウム",
        unit: "mmol/L",
        low: 3.6,
        high: 4.8,
        mean: 4.2,
        sd: 0.4,
        decimals: 1,
        specimen: SERUM,
        results: &[],
    },
    Lab {
        code: "3J010000002327101",
        system: "JC10",
        name: "総ビリルビン",
        unit: "mg/dL",
        low: 0.4,
        high: 1.5,
        mean: 0.8,
        sd: 0.3,
        decimals: 1,
        specimen: SERUM,
        results: &[],
    },
    Lab {
        code: "5C070000002306201",
        system: "JC10",
        name: "C反応性蛋白(CRP)定量",
        unit: "mg/dL",
        low: 0.0,
        high: 0.14,
        mean: 0.3,
        sd: 0.8,
        decimals: 2,
        specimen: SERUM,
        results: &[],
    },
    Lab {
        code: "3D046000001906202",
        system: "JC10",
        name: "HbA1c(NGSP)",
        unit: "%",
        low: 4.9,
        high: 6.0,
        mean: 5.9,
        sd: 0.9,
        decimals: 1,
        specimen: BLOOD,
        results: &[],
    },
    Lab {
        code: "2A010000001930901",
        system: "JC10",
        name: "白血球数",
        unit: "10*3/uL",
        low: 3.3,
        high: 8.6,
        mean: 6.5,
        sd: 2.0,
        decimals: 1,
        specimen: BLOOD,
        results: &[],
    },
    Lab {
        code: "2A020000001930901",
        system: "JC10",
        name: "赤血球数",
        unit: "10*6/uL",
        low: 4.35,
        high: 5.55,
        mean: 4.6,
        sd: 0.5,
        decimals: 2,
        specimen: BLOOD,
        results: &[],
    },
    // A hospital-local test with no JLAC10 code.
    Lab {
        code: "L9001",
        system: "99L01",
        name: "ＢＮＰ（院内）",
        unit: "pg/mL",
        low: 0.0,
        high: 18.4,
        mean: 30.0,
        sd: 40.0,
        decimals: 1,
        specimen: BLOOD,
        results: &[],
    },
];

pub struct Drug {
    pub code: &'static str,
    pub system: &'static str,
    pub name: &'static str,
    pub dose: &'static str,
    pub unit: (&'static str, &'static str),
    pub form: (&'static str, &'static str),
}

pub const ORAL_DRUGS: &[Drug] = &[
    Drug {
        code: "108665201",
        system: "HOT9",
        name: "ダーゼン錠（５mg)",
        dose: "1",
        unit: ("TAB", "錠"),
        form: ("TAB", "錠剤"),
    },
    Drug {
        code: "110626901",
        system: "HOT9",
        name: "パンスポリンＴ錠（１００mg)",
        dose: "1",
        unit: ("TAB", "錠"),
        form: ("TAB", "錠剤"),
    },
    Drug {
        code: "106824501",
        system: "HOT9",
        name: "アリナミン",
        dose: "1",
        unit: ("TAB", "錠"),
        form: ("TAB", "錠剤"),
    },
    Drug {
        code: "100607002",
        system: "HOT9",
        name: "アレピアチン１０倍散",
        dose: "0.5",
        unit: ("G", "g"),
        form: ("PWD", "散剤"),
    },
    Drug {
        code: "1163414010202",
        system: "HOT13",
        name: "アセトアミノフェン",
        dose: "1",
        unit: ("TAB", "錠"),
        form: ("TAB", "錠剤"),
    },
    // Local drug codes, as sites use for in-house products.
    Drug {
        code: "999001",
        system: "99XYZ",
        name: "アムロジピン錠5mg",
        dose: "1",
        unit: ("TAB", "錠"),
        form: ("TAB", "錠剤"),
    },
    Drug {
        code: "999002",
        system: "99XYZ",
        name: "メトホルミン塩酸塩錠250mg",
        dose: "2",
        unit: ("TAB", "錠"),
        form: ("TAB", "錠剤"),
    },
];

pub const INJECTIONS: &[Drug] = &[
    Drug {
        code: "620007329",
        system: "HOT9",
        name: "ソリタ−Ｔ３号輸液５００ｍＬ",
        dose: "500",
        unit: ("ML", "mL"),
        form: ("INJ", "注射剤"),
    },
    Drug {
        code: "620002559",
        system: "HOT9",
        name: "アドナ注（静脈用）50mg",
        dose: "1",
        unit: ("AMP", "アンプル"),
        form: ("INJ", "注射剤"),
    },
    Drug {
        code: "1198744010101",
        system: "HOT13",
        name: "セフトリアキソンナトリウム静注用1g",
        dose: "1",
        unit: ("VIL", "バイアル"),
        form: ("INJ", "注射剤"),
    },
];

pub struct Vaccine {
    pub code: &'static str,
    pub name: &'static str,
}

pub const VACCINES: &[Vaccine] = &[Vaccine {
    code: "999101",
    name: "インフルエンザＨＡワクチン",
}];

/// MEDIS disease key number, name, dotless ICD-10 (2013), exchange code when known.
pub struct Disease {
    pub key: &'static str,
    pub name: &'static str,
    pub icd10: Option<&'static str>,
    pub exchange: Option<&'static str>,
}

pub const DISEASES: &[Disease] = &[
    Disease {
        key: "20054174",
        name: "胃炎",
        icd10: Some("K297"),
        exchange: Some("TSQF"),
    },
    Disease {
        key: "20058577",
        name: "急性肺炎",
        icd10: Some("J189"),
        exchange: None,
    },
    Disease {
        key: "20061048",
        name: "２型糖尿病",
        icd10: Some("E119"),
        exchange: None,
    },
    Disease {
        key: "20065004",
        name: "高血圧症",
        icd10: Some("I10"),
        exchange: None,
    },
    // 未コード化傷病名: a free-text diagnosis with no ICD-10 code.
    Disease {
        key: "20084317",
        name: "左膝の違和感",
        icd10: None,
        exchange: None,
    },
];

pub struct Allergen {
    pub code: &'static str,
    pub system: &'static str,
    pub name: &'static str,
    pub kind: (&'static str, &'static str),
}

pub const ALLERGENS: &[Allergen] = &[
    Allergen {
        code: "5A1002216023023",
        system: "JC10",
        name: "スギ",
        kind: ("EA", "環境アレルギー"),
    },
    Allergen {
        code: "5A1002411023006",
        system: "JC10",
        name: "ソバ",
        kind: ("FA", "食物アレルギー"),
    },
    Allergen {
        code: "1",
        system: "99XYZ",
        name: "ペニシリン",
        kind: ("DA", "薬剤アレルギー"),
    },
];

/// Vital signs for extended storage ORU^R30: JLAC10 (NHO vital-sign prefixes) + LOINC.
pub struct Vital {
    pub jlac10: &'static str,
    pub name: &'static str,
    pub loinc: &'static str,
    pub loinc_name: &'static str,
    pub unit: &'static str,
    pub mean: f64,
    pub sd: f64,
    pub decimals: usize,
}

pub const VITALS: &[Vital] = &[
    Vital {
        jlac10: "9A751000000000001",
        name: "収縮期血圧",
        loinc: "8480-6",
        loinc_name: "Systolic blood pressure",
        unit: "mm[Hg]",
        mean: 128.0,
        sd: 15.0,
        decimals: 0,
    },
    Vital {
        jlac10: "9A761000000000001",
        name: "拡張期血圧",
        loinc: "8462-4",
        loinc_name: "Diastolic blood pressure",
        unit: "mm[Hg]",
        mean: 78.0,
        sd: 10.0,
        decimals: 0,
    },
    Vital {
        jlac10: "9P110000000000001",
        name: "体温",
        loinc: "8310-5",
        loinc_name: "Body temperature",
        unit: "Cel",
        mean: 36.6,
        sd: 0.4,
        decimals: 1,
    },
    Vital {
        jlac10: "9P310000000000001",
        name: "脈拍数",
        loinc: "8867-4",
        loinc_name: "Heart rate",
        unit: "/min",
        mean: 74.0,
        sd: 10.0,
        decimals: 0,
    },
    Vital {
        jlac10: "3H065000000000001",
        name: "ＳｐＯ２",
        loinc: "59408-5",
        loinc_name: "Oxygen saturation in Arterial blood by Pulse oximetry",
        unit: "%",
        mean: 97.0,
        sd: 1.5,
        decimals: 0,
    },
];

/// (kanji, kana) surnames and given names. All synthetic; every kanji name is prefixed
/// with 仮 ("provisional") in the output so no generated record can pass for a real person.
pub const SURNAMES: &[(&str, &str)] = &[
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("佐々木", "ササキ"),
    ("山口", "ヤマグチ"),
    ("松本", "マツモト"),
];
pub const MALE_NAMES: &[(&str, &str)] = &[
    ("太郎", "タロウ"),
    ("翔", "ショウ"),
    ("健一", "ケンイチ"),
    ("大輔", "ダイスケ"),
    ("誠", "マコト"),
    ("浩二", "コウジ"),
];
pub const FEMALE_NAMES: &[(&str, &str)] = &[
    ("花子", "ハナコ"),
    ("陽子", "ヨウコ"),
    ("美咲", "ミサキ"),
    ("裕子", "ユウコ"),
    ("恵", "メグミ"),
    ("直美", "ナオミ"),
];
pub const ADDRESSES: &[(&str, &str)] = &[
    ("422-8033", "静岡県静岡市駿河区登呂１−３−５"),
    ("105-0003", "東京都港区西新橋６丁目３番３号"),
    ("530-0001", "大阪府大阪市北区梅田２−４−９"),
    ("980-0021", "宮城県仙台市青葉区中央１−１−１"),
];
/// SS-MIX2 department codes (user table 0069).
pub const DEPARTMENTS: &[(&str, &str)] = &[
    ("01", "内科"),
    ("08", "外科"),
    ("15", "呼吸器外科"),
    ("10", "整形外科"),
    ("061", "循環器内科"),
];
