"""Writes the messy ORU variants in this folder (run it after editing a message; the files are committed).

Each variant keeps the shape of the shared samples and adds one or more things real hospital feeds do.
Text is written here as str and encoded per file, so GBK bytes and separators are exact.
Usage: .venv/bin/python tests/labs/messages/make_messages.py
"""
from pathlib import Path

HERE = Path(__file__).parent


def write(name: str, segments: list[str], encoding: str, sep: str) -> None:
    (HERE / name).write_bytes((sep.join(segments) + sep).encode(encoding))


# 1. GBK bytes, no MSH-18, CRLF. The name 李東 is chosen on purpose: 東 is 0x96 0x7C in GBK, and 0x7C is
#    "|", so a parser that splits bytes before decoding breaks the PID. Chinese units, sex-specific
#    Chinese range, a Chinese remark row, a citizen ID in PID-3 typed NNCHN, a Z-segment.
write("gbk-no-msh18-crlf.hl7", [
    "MSH|^~\\&|LIS|HOSP_A|GPO|CLINIC|20250301093000||ORU^R01|GBK0001|P|2.4",
    "PID|1||MR778812^^^HOSP_A^MR~11010519491231002X^^^CHN^NNCHN||李東~LI^DONG||19491231|M",
    "PV1|1|O|内科门诊",
    "OBR|1|P20250301-7|F20250301-7|URT^尿常规+血常规^L||20250301080000|20250301081500|||||||"
    "20250301083000|URN|||||||20250301092500|||F|||||||王芳||陈明",
    "OBX|1|NM|HGB^血红蛋白^L||118|g/L|男 130-175 女 115-150|L|||F|||20250301090000",
    "OBX|2|ST|PRO^尿蛋白^L||阴性||阴性|N|||F|||20250301090500",
    "OBX|3|NM|UWBC^尿白细胞^L||3|个/HP|0-5|N|||F|||20250301090500",
    "OBX|4|ST|REM^备注^L||标本轻度溶血||||||F",
    "ZXT|1|东院区检验科",
], "gbk", "\r\n")

# 2. UTF-8 with MSH-18, CR only. Escapes in units and text (\S\ \F\ \T\ \R\ \E\ \.br\ and a UTF-8 \Xhh\),
#    name repeats 张三~ZHANG^SAN, citizen ID in PID-3 typed ID, SN values, prose and one-sided ranges,
#    repeated flags L~A, HH/LL criticals, a CE value, a Z-segment. Chemistry panel filler CHEM-0042.
write("utf8-escapes-criticals-cr.hl7", [
    "MSH|^~\\&|LIS|HOSP_B|GPO|CLINIC|20250302110000||ORU^R01^ORU_R01|B-1001|P|2.5.1|||||CHN|UNICODE UTF-8",
    "PID|1||11010519491231002X^^^^ID~55501^^^HOSP_B^MR||张三~ZHANG^SAN^^^^^A||19491231|M",
    "OBR|1|ORD-42|CHEM-0042|CHEM^生化全套^L|||20250302070000|||||||20250302073000|SER^血清|||||||"
    "20250302105500|||F|||||||0101&李&明||0202&王&强",
    "OBX|1|NM|K^钾^L||6.8|mmol/L|3.5-5.5|HH|||F|||20250302100000",
    "OBX|2|NM|GLU^葡萄糖^L||2.1|mmol/L|3.9-6.1|LL|||F|||20250302100000",
    "OBX|3|NM|NA^钠^L||128|mmol/L|137-147|L~A|||F|||20250302100000",
    "OBX|4|NM|PB^Lead^L||4|ug/dL|<9 mcg/dL: acceptable|N|||F",
    "OBX|5|NM|EGFR^eGFR^L||55|mL/min/1.73m2|>=60|L|||F",
    "OBX|6|SN|CRP^C反应蛋白^L||<^0.5|mg/L|<5|N|||F",
    "OBX|7|SN|ASO^抗链O滴度^L||^1^:^128||<1:200|N|||F",
    "OBX|8|NM|WBC^白细胞^L||11.2|10\\S\\9/L|4.0-10.0|H|||F",
    "OBX|9|ST|NOTE^结果说明^L||溶血\\F\\脂血\\T\\黄疸\\R\\复查\\E\\A\\.br\\第二行 \\XE5BCA0\\|||A|||F",
    "OBX|10|CE|ABO^血型^L||A^A型^L||||||F",
    "OBX|11|TX|COMMENT^Interpretation^L||Line one~Line two||||||F",
    "ZDS|1|internal^stuff",
], "utf-8", "\r")

# 3. The correction: same order (filler CHEM-0042) re-sent with potassium corrected (OBX-11 C), LF only.
write("corrected-potassium-lf.hl7", [
    "MSH|^~\\&|LIS|HOSP_B|GPO|CLINIC|20250302150000||ORU^R01^ORU_R01|B-1002|P|2.5.1|||||CHN|UNICODE UTF-8",
    "PID|1||11010519491231002X^^^^ID~55501^^^HOSP_B^MR||张三~ZHANG^SAN^^^^^A||19491231|M",
    "OBR|1|ORD-42|CHEM-0042|CHEM^生化全套^L|||20250302070000|||||||20250302073000|SER^血清|||||||"
    "20250302145500|||C|||||||0101&李&明||0202&王&强",
    "OBX|1|NM|K^钾^L||4.2|mmol/L|3.5-5.5|N|||C|||20250302143000",
], "utf-8", "\n")

# 4. CRLF, UTF-8 without MSH-18, female patient, English sex-specific ranges in two spellings,
#    the citizen ID only in PID-19, preliminary results, responsible observer in OBX-16 and no OBR-34.
write("sex-ranges-crlf.hl7", [
    "MSH|^~\\&|HIS|HOSP_C|||20250303080000||ORU^R01|C-77|P|2.3.1",
    "PID|1||A-3301^^^HOSP_C^PI||王丽||19800101|F|||||||||||370101190102039973",
    "OBR|1||C-REQ-9|CBC^Blood count^L|||20250303070000|||||||20250303071000|BLD",
    "OBX|1|NM|HGB^Haemoglobin^L||112|g/L|M:130-175;F:115-150|L|||P|||||0042^Zhao^Lei",
    "OBX|2|NM|HCT^Haematocrit^L||36|%|Male 40-50, Female 35-45|N|||P|||||0042^Zhao^Lei",
    "OBX|3|NM|PLT^Platelets^L||15|10^9/L|100-300|LL|||P|||||0042^Zhao^Lei",
], "utf-8", "\r\n")

# 5. MSH-18 says 8859/1 (single-byte, always "decodes") but the bytes are GBK.
write("latin1-declared-gbk-bytes.hl7", [
    "MSH|^~\\&|LIS|HOSP_D|||20250304080000||ORU^R01|D-1|P|2.4|||||CHN|8859/1",
    "PID|1||D-1^^^^MR||刘洋||19700505|男",
    "OBR|1||D-REQ-1|GLU^血糖^L|||20250304070000",
    "OBX|1|NM|GLU^空腹血糖^L||7.8|mmol/L|3.9-6.1|↑|||F",
], "gbk", "\r")

# 6. Messages that must be refused, each for a different ACK reason.
write("reject-adt-not-oru.hl7", [
    "MSH|^~\\&|HIS|HOSP_A|||20250301093000||ADT^A01|ADT-1|P|2.4",
    "PID|1||X1^^^^MR||Nobody",
], "utf-8", "\r")
write("reject-missing-control-id.hl7", [
    "MSH|^~\\&|LIS|HOSP_A|GPO|CLINIC|20250301093000||ORU^R01||P|2.5",
    "PID|1||X1^^^^MR||Nobody",
    "OBR|1||R1|GLU^Glucose^L",
    "OBX|1|NM|GLU^Glucose^L||5.1|mmol/L|3.9-6.1|N|||F",
], "utf-8", "\r")
write("reject-obx-before-obr.hl7", [
    "MSH|^~\\&|LIS|HOSP_A|||20250301093000||ORU^R01|E-3|P|2.5",
    "PID|1||X1^^^^MR||Nobody",
    "OBX|1|NM|GLU^Glucose^L||5.1|mmol/L|3.9-6.1|N|||F",
], "utf-8", "\r")

# 7. Notes and comments (NTE). A note on the patient after PID (not kept), one after ORC and one after OBR
#    (the report's, the OBR one with two repetitions = two lines), haemolysis and recheck notes on a high
#    potassium, an empty NTE, the critical-value call on a critical sodium with escapes inside the note
#    (\.br\ a line break, \T\ "&", \S\ "^"), and a note after an instrument setting row (Take Mode, not a
#    result): it goes to the report, not onto the sodium above it. Written twice: UTF-8 with MSH-18 and CR,
#    and GBK without MSH-18 and CRLF (another control id and order number, so both can be stored).
def nte_message(control_id: str, filler: str, charset: str) -> list[str]:
    return [
        f"MSH|^~\\&|LIS|HOSP_B|GPO|CLINIC|20250306110000||ORU^R01^ORU_R01|{control_id}|P|2.5.1|||||{charset}",
        "PID|1||11010519491231002X^^^^ID~55501^^^HOSP_B^MR||张三~ZHANG^SAN^^^^^A||19491231|M",
        "NTE|1|P|患者自述未空腹",
        f"ORC|RE|ORD-{filler}|{filler}",
        "NTE|1|L|急诊标本",
        f"OBR|1|ORD-{filler}|{filler}|LYTE^电解质^L|||20250306070000|||||||20250306073000|SER^血清|||||||"
        "20250306105500|||F|||||||0101&李&明||0202&王&强",
        "NTE|1|L|标本轻度脂血~请结合临床",
        "OBX|1|NM|K^钾^L||6.1|mmol/L|3.5-5.5|H|||F|||20250306100000",
        "NTE|1|L|标本溶血，结果仅供参考",
        "NTE|2|L|已复查",
        "NTE|3|L|",
        "OBX|2|NM|NA^钠^L||118|mmol/L|137-147|LL|||F|||20250306100000",
        "NTE|1|L|危急值已电话通知 张医生 10:20\\.br\\复核：K\\T\\Na\\S\\2",
        "OBX|3|ST|MODE^Take Mode^L||Whole Blood||||||F",
        "NTE|1|L|仪器自动稀释后复测",
        "OBX|4|NM|CL^氯^L||101|mmol/L|99-110|N|||F|||20250306100000",
    ]


write("nte-comments-utf8-cr.hl7", nte_message("N-2001", "LYTE-0077", "CHN|UNICODE UTF-8"), "utf-8", "\r")
write("nte-comments-gbk-crlf.hl7", nte_message("N-2002", "LYTE-0078", "CHN"), "gbk", "\r\n")

if __name__ == "__main__":
    print("written:", ", ".join(sorted(p.name for p in HERE.glob("*.hl7"))))
