//! Deterministic synthetic tenants: multi-locale names, unique emails, valid E.164 phones
//! from many countries, companies; workspace sizes heavy-tailed (the largest ~10%).

use roster_core::domain::{Email, Language, PhoneE164};
use roster_core::model::ContactData;

/// SplitMix64: tiny, fast, and the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    // German, English, French, Spanish/Portuguese, Turkish, Polish, Indian, Japanese, Arabic
    "Lukas",
    "Leonie",
    "Jürgen",
    "Sören",
    "Anneliese",
    "Maximilian",
    "Friederike",
    "Wolfgang",
    "Ursula",
    "Matthias",
    "Oliver",
    "Charlotte",
    "William",
    "Emily",
    "Harrison",
    "Isabella",
    "Jonathan",
    "Victoria",
    "Benjamin",
    "Madeline",
    "Étienne",
    "Amélie",
    "François",
    "Margaux",
    "Théodore",
    "Céline",
    "Guillaume",
    "Océane",
    "Baptiste",
    "Josephine",
    "Alejandro",
    "Lucía",
    "Joaquín",
    "Valentina",
    "Santiago",
    "Mariana",
    "Gonçalo",
    "Beatriz",
    "Rodrigo",
    "Fernanda",
    "Mehmet",
    "Ayşe",
    "Mustafa",
    "Zeynep",
    "Emre",
    "Elif",
    "Burak",
    "Gökhan",
    "Şeyma",
    "Hüseyin",
    "Krzysztof",
    "Małgorzata",
    "Wojciech",
    "Agnieszka",
    "Grzegorz",
    "Katarzyna",
    "Przemysław",
    "Joanna",
    "Tomasz",
    "Zofia",
    "Aarav",
    "Priyanka",
    "Siddharth",
    "Ananya",
    "Vikram",
    "Deepika",
    "Rahul",
    "Lakshmi",
    "Arjun",
    "Kavya",
    "Haruto",
    "Yui",
    "Takeshi",
    "Sakura",
    "Kenji",
    "Hinata",
    "Daisuke",
    "Aiko",
    "Ryota",
    "Mei",
    "Mohammed",
    "Fatima",
    "Abdullah",
    "Layla",
    "Omar",
    "Yasmin",
    "Khalid",
    "Noura",
    "Tariq",
    "Salma",
];

const LAST: &[&str] = &[
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Krause",
    "Lehmann",
    "Köhler",
    "Johnson",
    "Williams",
    "Brown",
    "Davies",
    "Thompson",
    "Robinson",
    "Wright",
    "Walker",
    "Harrison",
    "Mitchell",
    "Dubois",
    "Lefèvre",
    "Moreau",
    "Laurent",
    "Fontaine",
    "Rousseau",
    "Girard",
    "Bonnet",
    "Chevalier",
    "Mercier",
    "García",
    "Fernández",
    "González",
    "Rodríguez",
    "Martínez",
    "Sánchez",
    "Pereira",
    "Oliveira",
    "Carvalho",
    "Gonçalves",
    "Yılmaz",
    "Kaya",
    "Demir",
    "Şahin",
    "Çelik",
    "Yıldız",
    "Aydın",
    "Öztürk",
    "Arslan",
    "Doğan",
    "Kowalski",
    "Wiśniewski",
    "Wójcik",
    "Kamiński",
    "Lewandowski",
    "Zieliński",
    "Szymański",
    "Woźniak",
    "Dąbrowski",
    "Kozłowski",
    "Sharma",
    "Patel",
    "Gupta",
    "Krishnan",
    "Reddy",
    "Iyer",
    "Chatterjee",
    "Banerjee",
    "Mehta",
    "Nair",
    "Tanaka",
    "Watanabe",
    "Yamamoto",
    "Nakamura",
    "Kobayashi",
    "Yoshida",
    "Yamaguchi",
    "Matsumoto",
    "Inoue",
    "Kimura",
    "Al-Farsi",
    "Haddad",
    "Mansour",
    "Nasser",
    "Khalil",
    "Rahman",
    "Saleh",
    "Aziz",
    "Hamdan",
    "Qureshi",
];

const COMPANY_WORDS: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Cyberdyne",
    "Soylent",
    "Hooli",
    "Vandelay",
    "Nordwind",
    "Sonnenschein",
    "Azur",
    "Sakura",
    "Anadolu",
    "Wisła",
    "Ganges",
    "Atlas",
    "Pioneer",
    "Zenith",
];
const COMPANY_KINDS: &[&str] = &[
    "GmbH",
    "Ltd",
    "SARL",
    "S.A.",
    "A.Ş.",
    "Sp. z o.o.",
    "Pvt Ltd",
    "K.K.",
    "LLC",
    "Group",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "mail.example",
    "post.example.de",
    "correo.example.es",
    "posta.example.tr",
    "web.example.jp",
];
const LANGUAGES: &[&str] = &["DE", "EN", "FR", "ES", "TR", "PL", "HI", "JA", "AR", "PT"];

/// Valid mobile number shapes: (country code, national prefixes, digits after the prefix).
const PHONE_PLANS: &[(&str, &[&str], usize)] = &[
    ("49", &["151", "160", "170", "171", "176", "179"], 8),
    ("44", &["7700", "7911", "7400", "7500"], 6),
    ("33", &["6", "7"], 8),
    ("34", &["6"], 8),
    ("39", &["320", "333", "347", "388"], 7),
    ("90", &["530", "532", "542", "555"], 7),
    ("48", &["501", "512", "600", "691"], 6),
    ("91", &["98", "97", "96"], 8),
    ("81", &["90", "80", "70"], 8),
    ("55", &["1191", "2199"], 7),
    ("1", &["2127", "4158", "6467", "3128", "6176"], 6),
];

/// A generated contact with what the query mix needs to aim at it.
#[derive(Debug, Clone)]
pub struct Person {
    pub first: String,
    pub last: String,
    pub email: String,
    pub phone: Option<PhoneE164>,
    pub company: usize,
}

/// Sizes of `count` workspaces holding `total` contacts: the largest 10%, the rest ∝ 1/k.
pub fn workspace_sizes(total: u64, count: usize) -> Vec<u64> {
    let count = count.max(1);
    if count == 1 {
        return vec![total];
    }
    let largest = (total / 10).max(1);
    let rest = total - largest.min(total);
    let harmonic: f64 = (2..=count).map(|k| 1.0 / k as f64).sum();
    let mut sizes = vec![largest.min(total)];
    let mut given = sizes[0];
    for k in 2..=count {
        let size = if k == count {
            total - given
        } else {
            ((rest as f64) * (1.0 / k as f64) / harmonic) as u64
        };
        let size = size.min(total - given);
        given += size;
        sizes.push(size);
    }
    sizes
}

pub fn person(rng: &mut Rng, serial: u64, companies: usize) -> Person {
    let first = (*rng.pick(FIRST)).to_owned();
    let last = (*rng.pick(LAST)).to_owned();
    let ascii = |s: &str| -> String {
        roster_search_fold(s)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect()
    };
    let email = format!(
        "{}.{}{}@{}",
        ascii(&first),
        ascii(&last),
        serial,
        rng.pick(DOMAINS)
    );
    let (code, prefixes, digits) = *rng.pick(PHONE_PLANS);
    let mut number = format!("+{code}{}", rng.pick(prefixes));
    for _ in 0..digits {
        number.push(char::from(b'0' + rng.below(10) as u8));
    }
    Person {
        first,
        last,
        email,
        phone: PhoneE164::parse(&number).ok(),
        company: rng.below(companies.max(1) as u64) as usize,
    }
}

/// Lower-case ASCII folding good enough for email local parts.
fn roster_search_fold(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'ä' | 'á' | 'à' | 'â' | 'ą' | 'Ä' => 'a',
            'ö' | 'ó' | 'ô' | 'Ö' | 'ø' => 'o',
            'ü' | 'ú' | 'Ü' => 'u',
            'é' | 'è' | 'ê' | 'ę' | 'É' => 'e',
            'ç' | 'ć' | 'Ç' => 'c',
            'ş' | 'ś' | 'Ş' => 's',
            'ğ' => 'g',
            'ı' | 'í' | 'İ' => 'i',
            'ł' | 'Ł' => 'l',
            'ń' | 'ñ' => 'n',
            'ź' | 'ż' => 'z',
            'ß' => 's',
            other => other,
        })
        .collect::<String>()
        .to_lowercase()
}

fn pick_str(rng: &mut Rng, items: &[&'static str]) -> &'static str {
    items[rng.below(items.len() as u64) as usize]
}

pub fn company_name(rng: &mut Rng, index: usize) -> String {
    format!(
        "{} {} {}",
        rng.pick(COMPANY_WORDS),
        index,
        rng.pick(COMPANY_KINDS)
    )
}

pub fn contact_data(
    person: &Person,
    rng: &mut Rng,
    organization: Option<roster_core::domain::OrganizationId>,
) -> ContactData {
    ContactData {
        name: Some(format!("{} {}", person.first, person.last)),
        first_name: Some(person.first.clone()),
        last_name: Some(person.last.clone()),
        email: Email::parse(&person.email).ok(),
        phone: person.phone.clone(),
        language: Language::parse(pick_str(rng, LANGUAGES)).ok(),
        organization_ids: organization.into_iter().collect(),
        ..ContactData::default()
    }
}

/// One random edit (substitute, delete, insert or swap neighbours) in a word of 4+ letters.
pub fn with_typo(rng: &mut Rng, word: &str) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    let at = 1 + rng.below(chars.len().saturating_sub(2).max(1) as u64) as usize;
    let letter = char::from(b'a' + rng.below(26) as u8);
    match rng.below(4) {
        0 => chars[at] = if chars[at] == letter { 'x' } else { letter },
        1 => {
            chars.remove(at);
        }
        2 => chars.insert(at, letter),
        _ => {
            let next = (at + 1).min(chars.len() - 1);
            if chars[at] == chars[next] {
                chars[at] = if chars[at] == 'q' { 'z' } else { 'q' };
            } else {
                chars.swap(at, next);
            }
        }
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_add_up_and_the_largest_is_a_tenth() {
        let sizes = workspace_sizes(1_000_000, 200);
        assert_eq!(sizes.iter().sum::<u64>(), 1_000_000);
        assert_eq!(sizes[0], 100_000);
        assert!(sizes[1] > sizes[10] && sizes[10] > sizes[100]);
    }

    #[test]
    fn generated_phones_are_valid_and_generation_is_deterministic() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let mut valid = 0;
        for serial in 0..1000 {
            let (pa, pb) = (person(&mut a, serial, 10), person(&mut b, serial, 10));
            assert_eq!(pa.email, pb.email);
            valid += usize::from(pa.phone.is_some());
        }
        assert!(valid > 900, "{valid} of 1000 phones valid");
    }
}
