#!/usr/bin/env python3
"""Source of the regulatory evaluation set. Writes questions.jsonl next to this file.

Each entry: Q(style, question, ev=[(doc, page, quote)...], extra={doc: [pages]})
gold = evidence pages + extra pages (1-based PDF page index).
Split: deterministic alternation within (primary document, style) groups.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
F = {
    "e6": "ich-e6-r2-gcp-2016.pdf",
    "q1a": "ich-q1a-r2-stability-2003.pdf",
    "q3c": "ich-q3c-r8-residual-solvents-2021.pdf",
    "q5c": "ich-q5c-stability-biotech-products-1995.pdf",
    "q6a": "ich-q6a-specifications-chemical-1999.pdf",
    "q7": "ich-q7-gmp-api-2000.pdf",
    "q8": "ich-q8-r2-pharmaceutical-development-2009.pdf",
    "q9": "ich-q9-quality-risk-management-2005.pdf",
    "q10": "ich-q10-pharmaceutical-quality-system-2008.pdf",
    "q11": "ich-q11-development-manufacture-drug-substances-2012.pdf",
}
QS = []


def Q(style, question, ev, extra=None):
    QS.append(dict(style=style, question=question, ev=ev, extra=extra or {}))


def U(style, question):
    QS.append(dict(style=style, question=question, ev=[], extra={}))


# ---------------------------------------------------------------- Q5C
Q("paraphrase", "For a recombinant protein bulk drug substance that we plan to hold for more than six months, how many batches and how much stability data do we need in the marketing application?",
  [("q5c", 4, "stability data should be provided on at least 3 batches for which manufacture and storage are representative of the manufacturing scale of production"),
   ("q5c", 4, "A minimum of 6 months stability data at the time of submission should be submitted in cases where storage periods greater than 6 months are requested.")])
Q("paraphrase", "Our liquid biologic is filled in vials with rubber stoppers. Should some stability samples be stored upside down or on their side?",
  [("q5c", 8, "stability studies should include samples maintained in the inverted or horizontal position (i.e., in contact with the closure), as well as in the upright position")])
Q("keyword", "stability-indicating profile biotechnological product identity purity potency",
  [("q5c", 6, "the manufacturer should propose a stability-indicating profile that provides assurance that changes in the identity, purity and potency of the product will be detected.")])
Q("paraphrase", "Are antibiotics, heparins or cellular blood components within the scope of the ICH stability annex for biotech products?",
  [("q5c", 4, "The document does not cover antibiotics, allergenic extracts, heparins, vitamins, whole blood, or cellular blood components.")])
Q("definition", "What is meant by a 'conjugated product' in the biotech stability guideline?",
  [("q5c", 10, "A conjugated product is made up of an active ingredient (for example, peptide, carbohydrate) bound covalently or noncovalently to a carrier")])
Q("paraphrase", "When during a biologic's stability program do we have to run sterility or container-closure integrity tests?",
  [("q5c", 7, "Sterility testing or alternatives (e.g., container/closure integrity testing) should be performed at a minimum initially and at the end of the proposed shelf-life.")])
Q("paraphrase", "How should potency results from biologic stability studies be expressed so they can be compared across laboratories?",
  [("q5c", 6, "a reference material calibrated directly or indirectly against the corresponding national or international reference material should be included in the assay.")])
Q("paraphrase", "Can accelerated-condition data alone be used to set the expiry date of a protein therapeutic?",
  [("q5c", 8, "Studies under accelerated conditions may provide useful support data for establishing the expiration date")],
  extra={"q5c": [3, 5]})

# ---------------------------------------------------------------- Q1A
Q("numeric", "What temperature and humidity are used for accelerated stability testing of a new drug substance in the general case, and for how long must data be available at submission?",
  [("q1a", 9, "Accelerated 40°C ± 2°C/75% RH ± 5% RH 6 months")])
Q("numeric", "At what long-term condition is a drug product intended for freezer storage tested, and how do you cover short excursions when there is no accelerated condition?",
  [("q1a", 17, "testing on a single batch at an elevated temperature (e.g., 5°C ± 3°C or 25°C ± 2°C) for an appropriate time period should be conducted")])
Q("definition", "What counts as a 'significant change' for a drug product in stability testing?",
  [("q1a", 15, "A 5% change in assay from its initial value; or failure to meet the acceptance criteria for potency when using biological or immunological procedures")])
Q("paraphrase", "Our long-term stability study runs at 25°C/60% RH and we saw a significant change at 40°C/75% RH. What additional study is expected?",
  [("q1a", 10, "additional testing at the intermediate storage condition should be conducted and evaluated against significant change criteria"),
   ("q1a", 15, "additional testing at the intermediate storage condition should be conducted and evaluated against significant change criteria")])
Q("numeric", "How often should samples be pulled at the long-term condition for a product with a proposed shelf life of two years or more?",
  [("q1a", 13, "every 3 months over the first year, every 6 months over the second year, and annually thereafter through the proposed shelf life")],
  extra={"q1a": [9]})
Q("definition", "What is the mean kinetic temperature?",
  [("q1a", 21, "A single derived temperature that, if maintained over a defined period of time, affords the same thermal challenge to a drug substance or drug product")])
Q("numeric", "How much water loss is regarded as a significant change for an aqueous product in a semi-permeable container at accelerated conditions?",
  [("q1a", 16, "A 5% loss in water from its initial value is considered a significant change for a product packaged in a semi-permeable container")])
Q("paraphrase", "What stress conditions should be applied to a new drug substance to work out its degradation pathways?",
  [("q1a", 8, "It should include the effect of temperatures (in 10°C increments (e.g., 50°C, 60°C, etc.) above that for accelerated testing), humidity (e.g., 75% RH or greater) where appropriate, oxidation, and photolysis")])
Q("numeric", "What is the minimum size of a pilot-scale batch for tablets used as a primary stability batch?",
  [("q1a", 22, "For solid oral dosage forms, a pilot scale is generally, at a minimum, one-tenth that of a full production scale or 100,000 tablets or capsules, whichever is the larger.")])
Q("keyword", "storage condition tolerances excursions more than 24 hours study report",
  [("q1a", 23, "Excursions that exceed the defined tolerances for more than 24 hours should be described in the study report and their effect assessed.")])
Q("paraphrase", "Is it acceptable to label our tablets 'store at room temperature'?",
  [("q1a", 12, "Terms such as “ambient conditions” or “room temperature” should be avoided."),
   ("q1a", 19, "Terms such as “ambient conditions” or “room temperature” should be avoided.")])
Q("paraphrase", "Which statistical approach can be used to estimate the re-test period or shelf life from stability data on a quantitative attribute?",
  [("q1a", 11, "determine the time at which the 95% one-sided confidence limit for the mean curve intersects the acceptance criterion"),
   ("q1a", 18, "determine the time at which the 95 one-sided confidence limit for the mean curve intersects the acceptance criterion")])
Q("paraphrase", "If our registration dossier includes stability data on fewer than three production batches, what post-approval stability commitment do we have to make for a drug product?",
  [("q1a", 18, "a commitment should be made to continue the long term studies through the proposed shelf life and the accelerated studies for 6 months")])
Q("which-guideline", "Which ICH guideline defines the core stability data package for registering a new molecular entity in the EU, Japan and the US, covering climatic zones I and II?",
  [("q1a", 7, "defines the stability data package for a new drug substance or drug product that is sufficient for a registration application within the three regions of the EC, Japan, and the United States")])

# ---------------------------------------------------------------- Q9
Q("paraphrase", "What are the two basic principles that quality risk management should follow?",
  [("q9", 6, "The evaluation of the risk to quality should be based on scientific knowledge and ultimately link to the protection of the patient")])
Q("paraphrase", "When starting a risk assessment, which simple questions help to frame the risk?",
  [("q9", 7, "As an aid to clearly defining the risk(s) for risk assessment purposes, three fundamental questions are often helpful")])
Q("definition", "How is 'risk' defined in the quality risk management guideline?",
  [("q9", 5, "It is commonly understood that risk is defined as the combination of the probability of occurrence of harm and the severity of that harm."),
   ("q9", 12, "The combination of the probability of occurrence of harm and the severity of that harm (ISO/IEC Guide 51).")])
Q("paraphrase", "Which risk tool would help us trace a customer complaint back to its root cause through chains of causes?",
  [("q9", 16, "FTA can be used to establish the pathway to the root cause of the failure.")])
Q("keyword", "HACCP seven steps critical control points",
  [("q9", 16, "HACCP is a systematic, proactive, and preventive tool for assuring product quality, reliability, and safety")])
Q("paraphrase", "Do we always need a formal, documented risk management process, or can informal approaches be acceptable?",
  [("q9", 5, "It is neither always appropriate nor always necessary to use a formal risk management process")])
Q("paraphrase", "Can a company simply accept residual risk without specifying it?",
  [("q9", 9, "Risk acceptance can be a formal decision to accept the residual risk or it can be a passive decision in which residual risks are not specified.")])
Q("paraphrase", "Which risk method relies on guide-words such as 'No', 'More' or 'Other Than' to find deviations from design intent?",
  [("q9", 17, "It is a systematic brainstorming technique for identifying hazards using so-called “guide-words”.")])
Q("paraphrase", "How could an inspectorate prioritise which manufacturing sites to inspect using a risk tool?",
  [("q9", 18, "Risk ranking and filtering can be used to prioritize manufacturing sites for inspection/audit by regulators or industry.")])
Q("definition", "What does 'severity' mean in quality risk management?",
  [("q9", 13, "Severity: A measure of the possible consequences of a hazard.")])
Q("paraphrase", "Which hazard analysis tool is suited to early development when little is known about design details?",
  [("q9", 17, "PHA is most commonly used early in the development of a project when there is little information on design details or operating procedures")])

# ---------------------------------------------------------------- Q10
Q("paraphrase", "What are the main objectives a company should achieve by implementing the ICH pharmaceutical quality system model?",
  [("q10", 6, "Implementation of the Q10 model should result in achievement of three main objectives which complement or enhance regional GMP requirements."),
   ("q10", 7, "To develop and use effective monitoring and control systems for process performance and product quality, thereby providing assurance of continued suitability and capability of processes.")])
Q("paraphrase", "Which four elements form the pillars of the pharmaceutical quality system?",
  [("q10", 8, "process performance and product quality monitoring, corrective and preventive action, change management and management review"),
   ("q10", 11, "the four specific pharmaceutical quality system elements that augment regional requirements to achieve the ICH Q10 objectives")],
  extra={"q10": [12]})
Q("paraphrase", "Who is ultimately accountable for making sure an effective quality system is in place in a pharmaceutical company?",
  [("q10", 8, "Senior management has the ultimate responsibility to ensure an effective pharmaceutical quality system is in place to achieve the quality objectives")])
Q("paraphrase", "If we outsource fill-finish to a contract manufacturer, who remains responsible for controlling that activity?",
  [("q10", 10, "The pharmaceutical company is ultimately responsible to ensure processes are in place to assure the control of outsourced activities and quality of purchased materials.")])
Q("definition", "What is the difference between a corrective action and a preventive action?",
  [("q10", 17, "Corrective action is taken to prevent recurrence whereas preventive action is taken to prevent occurrence."),
   ("q10", 18, "Preventive action is taken to prevent occurrence whereas corrective action is taken to prevent recurrence.")])
Q("keyword", "knowledge management acquiring analysing storing disseminating information",
  [("q10", 7, "Knowledge management is a systematic approach to acquiring, analysing, storing and disseminating information related to products, manufacturing processes and components."),
   ("q10", 18, "Systematic approach to acquiring, analysing, storing, and disseminating information related to products, manufacturing processes and components.")])
Q("paraphrase", "After a product is discontinued, what should happen to retained samples, documentation and ongoing stability studies?",
  [("q10", 11, "a pre-defined approach should be used to manage activities such as retention of documentation and samples and continued product assessment (e.g., complaint handling and stability)")],
  extra={"q10": [13]})
Q("definition", "What is a 'state of control'?",
  [("q10", 19, "A condition in which the set of controls consistently provides assurance of continued process performance and product quality.")])
Q("paraphrase", "What inputs should a management review of process performance and product quality consider?",
  [("q10", 15, "The results of regulatory inspections and findings, audits and other assessments, and commitments made to regulatory authorities")])
Q("which-guideline", "Which ICH guideline describes a quality management system model, based on ISO concepts, that spans development, technology transfer, commercial manufacturing and discontinuation?",
  [("q10", 5, "ICH Q10 describes one comprehensive model for an effective pharmaceutical quality system that is based on International Standards Organisation (ISO) quality concepts")])

# ---------------------------------------------------------------- Q8
Q("paraphrase", "Can we add extra drug substance to a formulation to compensate for expected degradation over the shelf life?",
  [("q8", 8, "use of an overage of a drug substance to compensate for degradation during manufacture or a product’s shelf life, or to extend shelf life, is discouraged.")])
Q("definition", "What is a quality target product profile (QTPP)?",
  [("q8", 20, "A prospective summary of the quality characteristics of a drug product that ideally will be achieved to ensure the desired quality"),
   ("q11", 30, "A prospective summary of the quality characteristics of a drug product that ideally will be achieved to ensure the desired quality")])
Q("paraphrase", "Do proven acceptable ranges established one factor at a time amount to a design space?",
  [("q8", 17, "However, proven acceptable ranges based on univariate experimentation can provide useful knowledge about the process."),
   ("q8", 20, "A characterised range of a process parameter for which operation within this range, while keeping other parameters constant, will result in producing a material meeting relevant quality criteria.")])
Q("paraphrase", "Do we have to find the edge of failure of our process parameters in order to claim a design space?",
  [("q8", 17, "determining the edge of failure or demonstrating failure modes are not essential parts of establishing a design space.")])
Q("paraphrase", "Can a design space developed on lab or pilot equipment be applied to commercial-scale manufacturing?",
  [("q8", 16, "The applicant should justify the relevance of a design space developed at small or pilot scale to the proposed production scale manufacturing process"),
   ("q8", 17, "the design space should be described in terms of relevant scale-independent parameters.")])
Q("paraphrase", "If we use real-time release testing, do we still need the GMP batch review before release?",
  [("q8", 18, "Real time release testing can replace end product testing, but does not replace the review and quality control steps called for under GMP to release the batch.")])
Q("keyword", "Process Analytical Technology PAT timely measurements critical quality attributes",
  [("q8", 11, "A system for designing, analyzing, and controlling manufacturing through timely measurements (i.e., during processing) of critical quality and performance attributes")])
Q("paraphrase", "Where in the CTD do we put information about pharmaceutical development of the drug product?",
  [("q8", 5, "This guideline describes the suggested contents for the 3.2.P.2 (Pharmaceutical Development) section of a regulatory submission in the ICH M4 Common Technical Document (CTD) format."),
   ("q8", 18, "Pharmaceutical development information is submitted in Section P.2 of the CTD.")])
Q("paraphrase", "Which product characteristics are usually critical quality attributes for a tablet or capsule?",
  [("q8", 15, "CQAs of solid oral dosage forms are typically those aspects affecting product purity, strength, drug release and stability.")])
Q("definition", "How is Quality by Design defined?",
  [("q8", 20, "A systematic approach to development that begins with predefined objectives and emphasizes product and process understanding and process control")])
Q("paraphrase", "For a pen injector or dry powder inhaler, what must development show about the dosing device?",
  [("q8", 10, "it is important to demonstrate that a reproducible and accurate dose of the product is delivered under testing conditions which, as far as possible, simulate the use of the product.")])
Q("definition", "What is process robustness?",
  [("q8", 11, "Ability of a process to tolerate variability of materials and changes of the process and equipment without negative impact on quality."),
   ("q11", 30, "Ability of a process to tolerate variability of materials and changes of the process and equipment without negative impact on quality. (ICH Q8)")])
Q("paraphrase", "What elements should a pharmaceutical development programme include at a minimum, even without an enhanced QbD approach?",
  [("q8", 13, "Pharmaceutical development should include, at a minimum, the following elements:"),
   ("q8", 14, "Identifying potential critical quality attributes1 (CQAs) of the drug product, so that those product characteristics having an impact on product quality can be studied and controlled")])
Q("paraphrase", "How is compatibility of a product with reconstitution diluents expected to be addressed during development?",
  [("q8", 11, "This information should cover the recommended in-use shelf life, at the recommended storage temperature and at the likely extremes of concentration.")])

# ---------------------------------------------------------------- Q11
Q("paraphrase", "For a monoclonal antibody drug substance, which process-related impurities should be considered as potential CQAs?",
  [("q11", 7, "Process-related impurities include: cell substrate-derived impurities (e.g., Host Cell Proteins (HCP) and DNA); cell culture-derived impurities (e.g., media components); and downstream-derived impurities (e.g., column leachables).")])
Q("paraphrase", "Can a non-isolated intermediate be proposed as the regulatory starting material of a synthetic API?",
  [("q11", 12, "A starting material should be a substance of defined chemical properties and structure. Non-isolated intermediates are usually not considered appropriate starting materials")])
Q("paraphrase", "Do we need to justify a commercially available chemical as a starting material, and what makes a chemical 'commercially available'?",
  [("q11", 13, "A commercially available chemical is usually one that is sold as a commodity in a pre-existing, non-pharmaceutical market in addition to its proposed use as starting material.")])
Q("paraphrase", "Why are impurities formed early in a synthetic route considered lower risk than those formed in the last steps?",
  [("q11", 12, "Impurities introduced or created early in the manufacturing process typically have more opportunities to be removed in purification operations"),
   ("q11", 11, "changes in material attributes or operating conditions that occur near the beginning of the manufacturing process have lower potential to impact the quality of the drug substance")])
Q("keyword", "cell banks source materials starting point biotechnological drug substances",
  [("q11", 13, "Cell banks are the starting point for manufacture of biotechnological drug substances and some biological drug substances.")])
Q("paraphrase", "Does every critical quality attribute of the drug substance have to appear as a test in the specification?",
  [("q11", 15, "The drug substance specification is one part of a total control strategy and not all CQAs need to be included in the drug substance specification.")])
Q("paraphrase", "Are process validation results for a non-sterile small-molecule API normally submitted in the dossier?",
  [("q11", 16, "For non-sterile chemical entity drug substance processes, results of process validation studies are not normally included in the dossier.")])
Q("paraphrase", "Can viral clearance studies for a biologic be performed only at small scale as part of process validation?",
  [("q11", 16, "Scientific grounds, or reference to guidelines which do not require or specifically exclude such studies, can be an appropriate justification to conduct certain studies only at small")])
Q("paraphrase", "Why might reagents used in the final steps of an API synthesis need tighter quality control than those used upstream?",
  [("q11", 15, "Raw materials used in operations near the end of the manufacturing process have a greater potential to introduce impurities into the drug substance than raw materials used upstream.")])
Q("definition", "What is platform manufacturing?",
  [("q11", 29, "The approach of developing a production strategy for a new drug starting from manufacturing processes similar to those used by the same applicant to manufacture other drugs of the same type")])
Q("paraphrase", "In which CTD section should drug substance process development information be submitted?",
  [("q11", 17, "Process development information should usually be submitted in Section 3.2.S.2.6 of the CTD."),
   ("q11", 9, "The information provided on the development of the drug substance manufacturing process (primarily in Section 3.2.S.2.6 of the application)")])
Q("paraphrase", "Should the maximum in vitro cell age be assessed for a cell-culture-derived drug substance?",
  [("q11", 17, "The limit of in vitro cell age for commercial production should be assessed.")])
Q("keyword", "traditional approach enhanced approach drug substance development set points operating ranges",
  [("q11", 5, "In a traditional approach, set points and operating ranges for process parameters are defined and the drug substance control strategy is typically based on demonstration of process reproducibility")])
Q("paraphrase", "Can small-scale studies establish the lifetime of chromatography resins for a biologic purification process?",
  [("q11", 17, "Studies carried out to demonstrate the lifetime of chromatography columns can include experimental studies carried out in small-scale models but should be confirmed during commercial-scale production.")])
Q("definition", "What is a semi-synthetic drug substance?",
  [("q11", 12, "a semi-synthetic drug substance is one in which the structural constituents have been introduced by a combination of chemical synthesis and elements of biological origin")])
Q("which-guideline", "Which ICH guideline explains how to describe the drug substance manufacturing process and its development in CTD sections 3.2.S.2.2 to 3.2.S.2.6, for both chemical and biotech entities?",
  [("q11", 5, "provides guidance on what information should be provided in Module 3 of the Common Technical Document (CTD) Sections 3.2.S.2.2")])

# ---------------------------------------------------------------- Q6A
Q("paraphrase", "Is a single HPLC retention time match sufficient as the identification test for a new drug substance or drug product?",
  [("q6a", 10, "Identification solely by a single chromatographic retention time, for example, is not regarded as being specific."),
   ("q6a", 11, "Identification solely by a single chromatographic retention time, for example, is not regarded as being specific.")])
Q("numeric", "What dissolution performance makes an immediate-release product 'rapidly dissolving' so that disintegration can replace dissolution?",
  [("q6a", 15, "For rapidly dissolving (dissolution >80% in 15 minutes at pH 1.2, 4.0 and 6.8) products containing drugs which are highly soluble"),
   ("q6a", 23, "not less than 80% of the label amount of the drug substance dissolves within 15 minutes in each of the following media")])
Q("numeric", "What dose/solubility volume defines a highly water-soluble drug in the specifications guideline?",
  [("q6a", 22, "Drugs with a dose/solubility volume of less than or equal to 250 mL over a pH range of 1.2 to 6.8.")],
  extra={"q6a": [15]})
Q("paraphrase", "Can we test residual solvents only on some batches rather than on every batch?",
  [("q6a", 6, "Periodic or skip testing is the performance of specified tests at release on pre-selected batches and / or at predetermined intervals, rather than on a batch-to-batch basis")])
Q("paraphrase", "Can a drug product have tighter release limits than shelf-life limits, and how is this handled in Japan, the US and the EU?",
  [("q6a", 6, "In Japan and the United States, this concept may only be applicable to in-house criteria, and not to the regulatory release criteria."),
   ("q6a", 7, "In the European Union there is a regulatory requirement for distinct specifications for release and for shelf-life where different.")])
Q("paraphrase", "Can a terminally sterilised injectable be released without an end-product sterility test?",
  [("q6a", 8, "Sterility testing for terminally sterilized drug products is one example."),
   ("q6a", 19, "Where data generated during development and validation justify parametric release, this approach may be proposed for terminally sterilized drug products")])
Q("numeric", "How much variability in mean release rate is normally allowed in the dissolution acceptance criteria of an extended-release product?",
  [("q6a", 15, "should not exceed a total numerical difference of +/-10% of the labeled content of drug substance")])
Q("keyword", "endotoxins limulus amoebocyte lysate pyrogenicity parenteral specification",
  [("q6a", 19, "A test procedure and acceptance criterion for endotoxins, using a procedure such as the limulus amoebocyte lysate test, should be included in the specification.")])
Q("paraphrase", "Does the chemical specifications guideline apply to oligonucleotides, radiopharmaceuticals or larger polypeptides?",
  [("q6a", 5, "This guideline may be applicable to synthetic and semi-synthetic antibiotics and synthetic peptides of low molecular weight"),
   ("q6a", 6, "Radiopharmaceuticals, products of fermentation, oligonucleotides, herbal products and crude products of animal or plant origin are similarly not covered.")])
Q("paraphrase", "Should we test for the polymorphic form directly in the finished tablet?",
  [("q6a", 13, "polymorph content should only be used as a test and acceptance criterion of last resort.")])
Q("paraphrase", "For a hygroscopic drug substance, is loss on drying acceptable for water content or is a water-specific method preferred?",
  [("q6a", 14, "a detection procedure that is specific for water (e.g., Karl Fischer titration) is preferred.")])
Q("definition", "In the specifications guideline for new chemical entities, how is a 'specification' defined?",
  [("q6a", 5, "A specification is defined as a list of tests, references to analytical procedures, and appropriate acceptance criteria"),
   ("q6a", 9, "A specification is defined as a list of tests, references to analytical procedures, and appropriate acceptance criteria"),
   ("q6a", 24, "A list of tests, references to analytical procedures, and appropriate acceptance criteria which are numerical limits, ranges, or other criteria for the tests described.")])
Q("paraphrase", "For a single-enantiomer drug substance, what must the identity test be able to do?",
  [("q6a", 13, "the identity test(s) should be capable of distinguishing both enantiomers and the racemic mixture.")])
Q("paraphrase", "Which functionality tests are expected for a product in a prefilled syringe or autoinjector?",
  [("q6a", 20, "These may include control of syringeability, pressure, and seal integrity (leakage), and/or parameters such as tip cap removal force, piston release force, piston travel force, and power injector function force.")])
Q("paraphrase", "Is control of extractables from container closures more important for injectables than for oral liquids?",
  [("q6a", 20, "Control of extractables from container/closure systems is considered significantly more important for parenteral products than for oral liquids.")])
Q("paraphrase", "Do we need to test the drug product for synthesis impurities that are already controlled in the API?",
  [("q6a", 9, "it is normally not considered necessary to test the drug product for synthesis impurities which are controlled in the drug substance and are not degradation products.")])
Q("definition", "What does polymorphism include besides different crystalline forms?",
  [("q6a", 12, "Polymorphism may also include solvation or hydration products (also known as pseudopolymorphs) and amorphous forms."),
   ("q6a", 23, "The occurrence of different crystalline forms of the same drug substance.")])
Q("paraphrase", "Should impurity acceptance criteria at filing be set tightly around the observed batch data?",
  [("q6a", 11, "Therefore it is considered inappropriate to establish acceptance criteria which tightly encompass the batch data at the time of filing."),
   ("q6a", 12, "Therefore it is considered inappropriate to establish acceptance criteria which tightly encompass the batch data at the time of filing.")])
Q("which-guideline", "Which ICH guideline should I use to set release tests and acceptance criteria for a new small-molecule tablet not yet registered in the US, EU or Japan?",
  [("q6a", 5, "It provides guidance on the setting and justification of acceptance criteria and the selection of test procedures for new drug substances of synthetic chemical origin")])

# ---------------------------------------------------------------- Q3C
Q("numeric", "What is the permitted daily exposure of tetrahydrofuran and which solvent class is it in?",
  [("q3c", 27, "The newly calculated PDE for tetrahydrofuran based upon chronic toxicity/carcinogenicity data is 7.2 mg/day, therefore, it is recommended that Tetrahydrofuran be placed into Class 2")],
  extra={"q3c": [13]})
Q("numeric", "What PDE was derived for cumene after the NTP carcinogenicity data, and what class did it move to?",
  [("q3c", 32, "The newly calculated PDE for cumene based upon carcinogenicity data is 0.7 mg/day")],
  extra={"q3c": [12]})
Q("numeric", "What is the PDE of triethylamine and is it a Class 2 or Class 3 solvent?",
  [("q3c", 36, "The calculated PDE for TEA based upon the NOEL of the rat sub-chronic inhalation study is 62.5 mg/day.")],
  extra={"q3c": [14, 21]})
Q("numeric", "What is the revised PDE for methyl isobutyl ketone (MIBK)?",
  [("q3c", 40, "in both cases a PDE of 45 mg/day was calculated. Therefore, it is recommended that MIBK be placed into Class 2")],
  extra={"q3c": [12]})
Q("numeric", "What PDE was established for 2-methyltetrahydrofuran, and in which class was it placed?",
  [("q3c", 42, "The calculated PDE for 2-MTHF is 50 milligrams per day (mg/day) based upon the NOEL of the rat sub-chronic oral study.")],
  extra={"q3c": [13, 20]})
Q("numeric", "What are the PDE and ppm limit for cyclopentyl methyl ether (CPME)?",
  [("q3c", 44, "The calculated PDE for CPME is 15 mg/day based upon the NOEL from the 28-day oral toxicity study.")],
  extra={"q3c": [12]})
Q("numeric", "What is the permitted daily exposure for tertiary-butyl alcohol?",
  [("q3c", 49, "The calculated PDE for TBA is 35 mg/day based upon the LOEL for nephropathy in females from the 2-year rat carcinogenicity study.")],
  extra={"q3c": [13, 48]})
Q("paraphrase", "Was N-methylpyrrolidone moved to the low-toxicity solvent class after its PDE was re-evaluated?",
  [("q3c", 29, "The EWG members thus recommend that N-methylpyrrolidone should be kept in Class 2 in Table 2 in the ICH Impurities: Residual Solvents Guideline.")],
  extra={"q3c": [12]})
Q("numeric", "How much residual ethanol or another low-toxicity solvent can remain in a drug substance without specific justification?",
  [("q3c", 13, "amounts of these residual solvents of 50 mg per day or less (corresponding to 5000 ppm or 0.5% under Option 1) would be acceptable without justification.")],
  extra={"q3c": [14]})
Q("paraphrase", "What daily dose is assumed when calculating the Option 1 ppm limits for Class 2 solvents?",
  [("q3c", 9, "They were calculated using equation (1) below by assuming a product mass of 10 g administered daily.")])
Q("paraphrase", "If only low-toxicity solvents are used in the process, can loss on drying replace a GC method?",
  [("q3c", 10, "If only Class 3 solvents are present, a non-specific method such as loss on drying may be used.")])
Q("paraphrase", "Can benzene or carbon tetrachloride be used in API synthesis?",
  [("q3c", 11, "Solvents in Class 1 should not be employed in the manufacture of drug substances, excipients, and drug products because of their unacceptable toxicity or their deleterious environmental effect.")])
Q("numeric", "What is the concentration limit for 1,1,1-trichloroethane and why is it a Class 1 solvent?",
  [("q3c", 11, "1,1,1-Trichloroethane is included in Table 1 because it is an environmental hazard. The stated limit of 1500 ppm is based on a review of the safety data.")])
Q("paraphrase", "Do the residual solvent limits apply to investigational products in clinical trials or to already marketed products?",
  [("q3c", 8, "This guideline does not apply to potential new drug substances, excipients, or drug products used during the clinical research stages of development, nor does it apply to existing marketed drug products.")])
Q("paraphrase", "Could higher residual solvent levels be acceptable for a topical cream or a short course of treatment?",
  [("q3c", 8, "Higher levels of residual solvents may be acceptable in certain cases such as short term (30 days or less) or topical application.")])
Q("definition", "What is the permitted daily exposure (PDE) for residual solvents?",
  [("q3c", 16, "Permitted Daily Exposure: The maximum acceptable intake per day of residual solvent in pharmaceutical products."),
   ("q3c", 8, "is defined in the present guideline as a pharmaceutically acceptable intake of residual solvents")])
Q("numeric", "What adult body weight is assumed when calculating solvent PDEs?",
  [("q3c", 24, "The weight adjustment assumes an arbitrary adult human body weight for either sex of 50 kg.")])
Q("numeric", "What modifying factor F1 is used to extrapolate rat or mouse toxicity data to humans when deriving a PDE?",
  [("q3c", 23, "F1 = 5 for extrapolation from rats to humans F1 = 12 for extrapolation from mice to humans")])
Q("paraphrase", "If the excipients and API each comply with solvent limits, do we still have to test the finished drug product for residual solvents?",
  [("q3c", 7, "If the calculation results in a level equal to or below that recommended in this guideline, no testing of the drug product for residual solvents need be considered.")])
Q("paraphrase", "What kind of toxicity places a solvent in the 'solvents to be limited' class?",
  [("q3c", 8, "Non-genotoxic animal carcinogens or possible causative agents of other irreversible toxicity such as neurotoxicity or teratogenicity.")])
Q("paraphrase", "What is expected for solvents such as isopropyl ether or petroleum ether for which no adequate toxicology data exist?",
  [("q3c", 15, "Manufacturers should supply justification for residual levels of these solvents in pharmaceutical products.")])
Q("which-guideline", "Which ICH guideline gives toxicologically acceptable limits for organic volatile solvents left over from manufacturing?",
  [("q3c", 7, "The objective of this guideline is to recommend acceptable amounts for residual solvents in pharmaceuticals for the safety of the patient.")])

# ---------------------------------------------------------------- Q7
Q("paraphrase", "Does the ICH GMP guide for active ingredients apply to gene therapy APIs, whole cells or vaccines?",
  [("q7", 7, "This Guide excludes all vaccines, whole cells, whole blood and plasma, blood and plasma derivatives (plasma fractionation), and gene therapy APIs.")])
Q("paraphrase", "Are sterilisation and aseptic processing of a sterile API covered by the API GMP guide?",
  [("q7", 7, "It applies to the manufacture of sterile APIs only up to the point immediately prior to the APIs being rendered sterile.")])
Q("definition", "What is an 'API starting material'?",
  [("q7", 8, "is a raw material, intermediate, or an API that is used in the production of an API and that is incorporated as a significant structural fragment into the structure of the API."),
   ("q7", 45, "A raw material, intermediate, or an API that is used in the production of an API and that is incorporated as a significant structural fragment into the structure of the API."),
   ("q11", 12, "A starting material is incorporated as a significant structural fragment into the structure of the drug substance.")])
Q("paraphrase", "Must the quality unit of an API manufacturer be separate from production, and can it be a single person?",
  [("q7", 10, "There should be a quality unit(s) that is independent of production and that fulfills both quality assurance (QA) and quality control (QC) responsibilities."),
   ("q7", 48, "An organizational unit independent of production which fulfills both Quality Assurance and Quality Control responsibilities.")])
Q("paraphrase", "Can the quality unit delegate its core responsibilities such as releasing APIs to production staff?",
  [("q7", 10, "The main responsibilities of the independent quality unit(s) should not be delegated.")])
Q("paraphrase", "How often should product quality reviews of an API be done and what should they cover?",
  [("q7", 12, "Such reviews should normally be conducted and documented annually and should include at least")])
Q("numeric", "How long must API production, control and distribution records be kept?",
  [("q7", 18, "All production, control, and distribution records should be retained for at least 1 year after the expiry date of the batch.")])
Q("paraphrase", "How should a mistake in a GMP batch record entry be corrected?",
  [("q7", 18, "Corrections to entries should be dated and signed and leave the original entry still readable.")])
Q("numeric", "For how long should reserve samples of each API batch be retained?",
  [("q7", 31, "reserve samples of each API batch should be retained for one year after the expiry date of the batch assigned by the manufacturer, or for three years after distribution of the batch, whichever is the longer.")])
Q("numeric", "What quantity of reserve sample should be kept for each API batch?",
  [("q7", 31, "Sufficient quantities should be retained to conduct at least two full compendial analyses or, when there is no pharmacopoeial monograph, two full specification analyses.")])
Q("paraphrase", "Which commercial API batches should go onto the ongoing stability monitoring programme at launch?",
  [("q7", 30, "Normally the first three commercial production batches should be placed on the stability monitoring program to confirm the retest or expiry date.")])
Q("numeric", "After launch, how many API batches per year should be added to the stability programme?",
  [("q7", 30, "at least one batch per year of API manufactured (unless none is produced that year) should be added to the stability monitoring program and tested at least annually")])
Q("numeric", "How many consecutive batches are normally used for prospective process validation of an API?",
  [("q7", 33, "For prospective and concurrent validation, three consecutive successful production batches should be used as a guide")])
Q("numeric", "How many historical batches should be examined for retrospective validation of an established API process?",
  [("q7", 33, "For retrospective validation, generally data from ten to thirty consecutive batches should be examined to assess process consistency")])
Q("paraphrase", "Can batches made during concurrent validation be released for commercial use before the validation is complete?",
  [("q7", 33, "Prior to the completion of concurrent validation, batches can be released and used in final drug product for commercial distribution based on thorough monitoring and testing of the API batches.")])
Q("paraphrase", "Can an out-of-specification API batch be blended with good batches to bring it within specification?",
  [("q7", 25, "Out-Of-Specification batches should not be blended with other batches for the purpose of meeting specifications.")])
Q("paraphrase", "How is the retest or expiry date assigned to a blended API batch?",
  [("q7", 26, "The expiry or retest date of the blended batch should be based on the manufacturing date of the oldest tailings or batch in the blend.")])
Q("paraphrase", "What minimum quality should process water used in API manufacture meet?",
  [("q7", 14, "Organization (WHO) guidelines for drinking (potable) water quality.")],
  )
Q("paraphrase", "Do penicillins need dedicated production areas in an API plant?",
  [("q7", 14, "Dedicated production areas, which can include facilities, air handling equipment and/or process equipment, should be employed in the production of highly sensitizing materials, such as penicillins or cephalosporins.")])
Q("definition", "What is the difference between reprocessing and reworking an API?",
  [("q7", 48, "Subjecting an intermediate or API that does not conform to standards or specifications to one or more processing steps that are different from the established manufacturing process"),
   ("q7", 36, "back into the process and reprocessing by repeating a crystallization step or other appropriate chemical or physical manipulation steps")])
Q("paraphrase", "Who should be allowed access to the master and working cell banks used for a fermentation-derived API?",
  [("q7", 41, "Access to cell banks should be limited to authorized personnel.")],
  )
Q("paraphrase", "How should open processing be handled around viral inactivation and removal steps to avoid recontamination?",
  [("q7", 42, "Appropriate precautions should be taken to prevent potential viral contamination from pre-viral to post-viral removal/inactivation steps.")],
  extra={"q7": [43]})
Q("paraphrase", "Is process validation expected for an API batch made for a Phase 1 clinical trial?",
  [("q7", 44, "Process validation for the production of APIs for use in clinical trials is normally inappropriate, where a single API batch is produced")])
Q("paraphrase", "Do analytical methods used to release a clinical-trial API have to be fully validated?",
  [("q7", 44, "While analytical methods performed to evaluate a batch of API for clinical trials may not yet be validated, they should be scientifically sound.")])
Q("paraphrase", "Can a supplier certificate of analysis replace our own testing of incoming raw materials?",
  [("q7", 22, "At least one test to verify the identity of each batch of material should be conducted, with the exception of the materials described below in 7.32.")])
Q("keyword", "retest date expiration date common practice API stability",
  [("q7", 31, "An API expiry or retest date should be based on an evaluation of data derived from stability studies. Common practice is to use a retest date, not an expiration date.")])
Q("definition", "What does 'quarantine' mean in API GMP?",
  [("q7", 48, "The status of materials isolated physically or by other effective means pending a decision on their subsequent approval or rejection.")])
Q("paraphrase", "What should happen when a laboratory result for an API is out of specification?",
  [("q7", 29, "Any out-of-specification result obtained should be investigated and documented according to a procedure.")])
Q("paraphrase", "Do GMP-relevant computerised systems in an API plant need validation, and how extensive should it be?",
  [("q7", 17, "GMP related computerized systems should be validated. The depth and scope of validation depends on the diversity, complexity and criticality of the computerized application.")])
Q("which-guideline", "Which ICH guideline covers GMP for active pharmaceutical ingredients made by chemical synthesis, extraction or cell culture/fermentation?",
  [("q7", 7, "This Guide covers APIs that are manufactured by chemical synthesis, extraction, cell culture/fermentation, by recovery from natural sources, or by any combination of these processes.")])

# ---------------------------------------------------------------- E6
Q("numeric", "What is the recommended minimum membership of an IRB/IEC and what other composition requirements apply?",
  [("q_e6" if False else "e6", 17, "(a) At least five members. (b) At least one member whose primary area of interest is in a nonscientific area.")])
Q("numeric", "How long should an ethics committee keep its records after a trial is completed?",
  [("e6", 18, "for a period of at least 3-years after completion of the trial and make them available upon request from the regulatory authority(ies).")])
Q("numeric", "How long must essential trial documents be retained after marketing approval or discontinuation of development?",
  [("e6", 25, "Essential documents should be retained until at least 2-years after the last approval of a marketing application in an ICH region"),
   ("e6", 31, "The sponsor specific essential documents should be retained until at least 2-years after the last approval of a marketing application in an ICH region")])
Q("paraphrase", "Can payments to trial participants be made only if they finish the study?",
  [("e6", 17, "Payments to a subject should be prorated and not wholly contingent on completion of the trial by the subject.")])
Q("paraphrase", "What happens if a patient cannot read the informed consent form?",
  [("e6", 22, "an impartial witness should be present during the entire informed consent discussion."),
   ("e6", 23, "the witness should sign and personally date the consent form. By signing the consent form, the witness attests that the information in the consent form")],
  extra={"e6": [10]})
Q("paraphrase", "Under what conditions may a non-therapeutic trial enrol subjects through consent of a legal representative?",
  [("e6", 24, "Non-therapeutic trials may be conducted in subjects with consent of a legally acceptable representative provided the following conditions are fulfilled:")])
Q("paraphrase", "How can patients be enrolled in an emergency-setting trial when prior consent is not possible?",
  [("e6", 24, "In emergency situations, when prior consent of the subject is not possible, the consent of the subject's legally acceptable representative, if present, should be requested.")],
  extra={"e6": [25]})
Q("keyword", "source data attributable legible contemporaneous original accurate complete",
  [("e6", 25, "Source data should be attributable, legible, contemporaneous, original, accurate, and complete.")])
Q("paraphrase", "How should corrections to a case report form be made?",
  [("e6", 25, "Any change or correction to a CRF should be dated, initialed, and explained (if necessary) and should not obscure the original entry")])
Q("paraphrase", "When must an investigator report a serious adverse event to the sponsor?",
  [("e6", 26, "All serious adverse events (SAEs) should be reported immediately to the sponsor except for those SAEs that the protocol or other document")])
Q("definition", "What makes an adverse event 'serious' under GCP?",
  [("e6", 13, "Serious Adverse Event (SAE) or Serious Adverse Drug Reaction (Serious ADR) Any untoward medical occurrence that at any dose:")])
Q("definition", "What is the difference between an adverse event and an adverse drug reaction?",
  [("e6", 8, "Any untoward medical occurrence in a patient or clinical investigation subject administered a pharmaceutical product and which does not necessarily have a causal relationship with this treatment."),
   ("e6", 8, "The phrase responses to a medicinal product means that a causal relationship between a medicinal product and an adverse event is at least a reasonable possibility")])
Q("paraphrase", "What are quality tolerance limits in a clinical trial and what happens when they are exceeded?",
  [("e6", 27, "Predefined quality tolerance limits should be established, taking into consideration the medical and statistical characteristics of the variables as well as the statistical design of the trial"),
   ("e6", 28, "Detection of deviations from the predefined quality tolerance limits should trigger an evaluation to determine if action is needed.")])
Q("paraphrase", "If a sponsor transfers trial duties to a CRO, who is responsible for data quality?",
  [("e6", 28, "the ultimate responsibility for the quality and integrity of the trial data always resides with the sponsor.")])
Q("definition", "What is centralized monitoring?",
  [("e6", 35, "Centralized monitoring is a remote evaluation of accumulating data, performed in a timely manner, supported by appropriately qualified and trained persons (e.g., data managers, biostatisticians).")])
Q("paraphrase", "Can a sponsor rely on remote monitoring instead of site visits?",
  [("e6", 35, "The sponsor may choose on-site monitoring, a combination of on-site and centralized monitoring, or, where justified, centralized monitoring.")])
Q("paraphrase", "Is the principal investigator responsible for tasks delegated to site staff or third parties?",
  [("e6", 19, "The investigator is responsible for supervising any individual or party to whom the investigator delegates trial-related duties and functions conducted at the trial site.")])
Q("definition", "What qualifies as a certified copy of a trial record?",
  [("e6", 14, "A copy (irrespective of the type of media used) of the original record that has been verified (i.e., by a dated signature or by generation through a validated process)")])
Q("keyword", "validation of computerized systems risk assessment design until decommissioning",
  [("e6", 14, "A process of establishing and documenting that the specified requirements of a computerized system can be consistently fulfilled from design until decommissioning of the system")])
Q("definition", "Who are considered vulnerable subjects in clinical trials?",
  [("e6", 14, "Individuals whose willingness to volunteer in a clinical trial may be unduly influenced by the expectation, whether justified or not, of benefits associated with participation")])
Q("numeric", "How often should the investigator's brochure be reviewed and updated?",
  [("e6", 44, "The IB should be reviewed at least annually and revised as necessary in compliance with a sponsor's written procedures.")])
Q("numeric", "How often must the investigator send trial status summaries to the ethics committee?",
  [("e6", 25, "The investigator should submit written summaries of the trial status to the IRB/IEC annually, or more frequently, if requested by the IRB/IEC.")])
Q("paraphrase", "Can an investigator deviate from the protocol without prior ethics approval to protect a patient from an immediate hazard?",
  [("e6", 21, "The investigator may implement a deviation from, or a change of, the protocol to eliminate an immediate hazard(s) to trial subjects without prior IRB/IEC approval/favourable opinion."),
   ("e6", 18, "except when necessary to eliminate immediate hazards to the subjects or when the change(s) involves only logistical or administrative aspects of the trial")],
  extra={"e6": [20]})
Q("definition", "What is a sponsor-investigator?",
  [("e6", 13, "An individual who both initiates and conducts, alone or with others, a clinical trial, and under whose immediate direction the investigational product is administered")])
Q("paraphrase", "Must investigational products used in a trial be manufactured under GMP?",
  [("e6", 33, "is manufactured in accordance with any applicable GMP, and is coded and labelled in a manner that protects the blinding, if applicable.")])
Q("paraphrase", "What should a sponsor's monitoring plan describe?",
  [("e6", 38, "The sponsor should develop a monitoring plan that is tailored to the specific human subject protection and data integrity risks of the trial.")],
  extra={"e6": [14]})
Q("paraphrase", "When the interests of science conflict with the well-being of trial participants, which should prevail?",
  [("e6", 15, "The rights, safety, and well-being of the trial subjects are the most important considerations and should prevail over interests of science and society.")])
Q("definition", "What is an independent data-monitoring committee?",
  [("e6", 10, "An independent data-monitoring committee that may be established by the sponsor to assess at intervals the progress of a clinical trial, the safety data, and the critical efficacy endpoints")])
Q("paraphrase", "What should a sponsor do to validate an electronic data capture system used in a trial?",
  [("e6", 29, "The sponsor should base their approach to validation of such systems on a risk assessment that takes into consideration the intended use of the system")],
  extra={"e6": [14]})
Q("paraphrase", "According to GCP, where should a trial master file be set up and when can a trial be closed out?",
  [("e6", 51, "Trial master files should be established at the beginning of the trial, both at the investigator/institution’s site and at the sponsor's office.")])
Q("which-guideline", "Which ICH guideline sets the international ethical and scientific quality standard for designing, conducting, recording and reporting trials with human subjects?",
  [("e6", 7, "Good Clinical Practice (GCP) is an international ethical and scientific quality standard for designing, conducting, recording and reporting trials that involve the participation of human subjects.")])

Q("which-guideline", "Which ICH guideline explains quality by design, the quality target product profile and design space for drug product development?",
  [("q8", 13, "This guideline is an annex to ICH Q8 Pharmaceutical Development and provides further clarification of key concepts outlined in the core guideline.")],
  extra={"q8": [5]})
Q("which-guideline", "Which ICH guideline covers stability testing of monoclonal antibodies, cytokines and vaccines made of well-characterised proteins?",
  [("q5c", 3, "The guidance stated in this annex applies to well-characterised proteins and polypeptides, their derivatives and products of which they are components"),
   ("q5c", 4, "growth hormones and growth factors, insulins, monoclonal antibodies, and vaccines consisting of well-characterised proteins or polypeptides")])
Q("which-guideline", "Which ICH guideline describes risk tools such as FMEA, FMECA, fault tree analysis, HACCP, HAZOP and risk ranking for pharmaceutical quality decisions?",
  [("q9", 10, "Below is a non-exhaustive list of some of these tools (further details in Annex 1 and chapter 8):"),
   ("q9", 15, "The purpose of this annex is to provide a general overview of and references for some of the primary tools that might be used in quality risk management")])

# ---------------------------------------------------------------- multi-document
Q("multi-doc", "How many batches are needed in formal stability studies of a drug substance, for a small molecule versus a biotech protein?",
  [("q1a", 8, "Data from formal stability studies should be provided on at least three primary batches of the drug substance."),
   ("q5c", 4, "stability data should be provided on at least 3 batches for which manufacture and storage are representative of the manufacturing scale of production")])
Q("multi-doc", "For a biotech product or API with a shelf life of one year or less, how frequently should stability samples be tested?",
  [("q5c", 9, "When shelf-lives of 1 year or less are proposed, the real-time stability studies should be conducted monthly for the first 3 months and at 3 month intervals thereafter."),
   ("q7", 30, "stability samples should be obtained and should be tested monthly for the first three months, and at three month intervals after that.")])
Q("multi-doc", "What long-term stability testing frequency applies when the shelf life or re-test period is longer than one year, for chemical and biological products?",
  [("q1a", 9, "every 3 months over the first year, every 6 months over the second year, and annually thereafter through the proposed re-test period."),
   ("q5c", 9, "the studies should be conducted every 3 months during the first year of storage, every 6 months during the second year, and annually thereafter.")],
  extra={"q1a": [13]})
Q("multi-doc", "Is moving within an approved design space considered a change requiring regulatory approval?",
  [("q8", 6, "Working within the design space is not considered as a change. Movement out of the design space is considered to be a change"),
   ("q10", 14, "As stated in ICH Q8, working within the design space is not considered a change (from a regulatory filing perspective).") ,
   ("q11", 19, "This includes movements within the design space, which do not require approval by regional regulatory authorities.")],
  extra={"q8": [11, 20], "q11": [9, 22, 29]})
Q("multi-doc", "How do the ICH quality guidelines define a control strategy?",
  [("q10", 17, "A planned set of controls, derived from current product and process understanding, that assures process performance and product quality."),
   ("q8", 20, "A planned set of controls, derived from current product and process understanding that ensures process performance and product quality."),
   ("q11", 14, "A control strategy is a planned set of controls, derived from current product and process understanding, that assures process performance and product quality (ICH Q10).")],
  extra={"q11": [29]})
Q("multi-doc", "What is quality risk management, as defined in the ICH quality guidelines?",
  [("q9", 6, "Quality risk management is a systematic process for the assessment, control, communication and review of risks to the quality of the drug (medicinal) product across the product lifecycle."),
   ("q10", 18, "A systematic process for the assessment, control, communication and review of risks to the quality of the drug (medicinal) product across the product lifecycle. (ICH Q9)"),
   ("q11", 30, "A systematic process for the assessment, control, communication and review of risks to the quality of the drug (medicinal) product across the product lifecycle. (ICH Q9)")],
  extra={"q9": [12]})
Q("multi-doc", "At what point in a synthetic route do API GMP requirements start to apply, including for convergent syntheses?",
  [("q7", 8, "From this point on, appropriate GMP as defined in this Guide should be applied to these intermediate and/or API manufacturing steps."),
   ("q11", 12, "provisions described in ICH Q7 apply to each branch beginning with the first use of a starting material.")])
Q("multi-doc", "What is a retest date or re-test period for a drug substance, and what happens when it is reached?",
  [("q1a", 22, "After this period, a batch of drug substance destined for use in the manufacture of a drug product should be re-tested for compliance with the specification and then used immediately."),
   ("q7", 48, "The date when a material should be re-examined to ensure that it is still suitable for use.")])
Q("multi-doc", "When can disintegration testing replace dissolution testing for an immediate-release solid oral product?",
  [("q6a", 7, "dissolution testing for immediate release solid oral drug products made from highly water soluble drug substances may be replaced by disintegration testing"),
   ("q8", 17, "disintegration could serve as a surrogate for dissolution for fast-disintegrating solid forms with highly soluble drug substances.")],
  extra={"q6a": [15]})
Q("multi-doc", "How should antimicrobial preservative effectiveness be demonstrated for a multi-dose product during development and stability?",
  [("q6a", 17, "The lowest specified concentration of antimicrobial preservative should be demonstrated to be effective in controlling microorganisms by using a pharmacopoeial antimicrobial preservative effectiveness test."),
   ("q8", 11, "organisms by using an antimicrobial preservative effectiveness test."),
   ("q1a", 13, "A single primary stability batch of the drug product should be tested for antimicrobial preservative effectiveness (in addition to preservative content) at the proposed shelf life for verification purposes")],
  extra={"q6a": [20], "q8": [10]})
Q("multi-doc", "Should the effort and formality of risk management scale with the level of risk, both for product quality and for clinical trial quality management?",
  [("q9", 6, "The level of effort, formality and documentation of the quality risk management process should be commensurate with the level of risk."),
   ("e6", 27, "The methods used to assure and control the quality of the trial should be proportionate to the risks inherent in the trial and the importance of the information collected."),
   ("q10", 13, "The level of effort, formality, and documentation of the investigation should be commensurate with the level of risk, in line with ICH Q9.")],
  extra={"q10": [14]})
Q("multi-doc", "What oversight should a company have over contract manufacturers and other outsourced GMP activities?",
  [("q7", 38, "There should be a written and approved contract or formal agreement between the contract giver and the contract acceptor that defines in detail the GMP responsibilities"),
   ("q10", 10, "Assessing prior to outsourcing operations or selecting material suppliers, the suitability and competence of the other party to carry out the activity")])
Q("multi-doc", "What is a critical quality attribute (CQA), for drug products and drug substances?",
  [("q8", 15, "A CQA is a physical, chemical, biological, or microbiological property or characteristic that should be within an appropriate limit, range, or distribution to ensure the desired product quality."),
   ("q11", 7, "A CQA is a physical, chemical, biological, or microbiological property or characteristic that should be within an appropriate limit, range, or distribution to ensure the desired")],
  extra={"q8": [20], "q11": [29]})
Q("multi-doc", "In what containers should stability samples of a drug substance or API be stored — must they be the full-size commercial containers?",
  [("q1a", 8, "container closure system that is the same as or simulates the packaging proposed for storage and distribution."),
   ("q5c", 4, "Containers of reduced size may be acceptable for drug substance stability testing provided that they are constructed of the same material"),
   ("q7", 30, "Stability samples should be stored in containers that simulate the market container.")])
Q("multi-doc", "Where should limits for residual solvents in a new drug substance specification come from?",
  [("q6a", 11, "Organic and inorganic impurities and residual solvents are included in this category. Refer to the ICH Guidelines Impurities in New Drug Substances and Residual Solvents in Pharmaceuticals"),
   ("q3c", 7, "Residual solvents in drug substances, excipients, and in drug products are within the scope of this guideline.")])

# ---------------------------------------------------------------- unanswerable: ATMP topics not covered
for q in [
    "What biodistribution studies are required for an AAV gene therapy vector before the first-in-human trial, and which tissues must be sampled?",
    "How should the tumourigenicity risk of an iPSC-derived cell therapy product be assessed in non-clinical studies?",
    "What viral shedding studies are needed for an oncolytic virus to assess the risk of transmission to third parties?",
    "Which potency assay is expected for release and stability testing of a CAR-T cell product, e.g. cytotoxicity or cytokine release?",
    "How is the risk of germline transmission evaluated for an in vivo gene therapy vector?",
    "How should the risk of insertional mutagenesis from an integrating lentiviral vector be assessed and monitored?",
    "What testing for replication-competent lentivirus (RCL) is required on the vector lot and on transduced cells?",
    "For how many years must patients treated with an integrating gene therapy product be followed up after administration?",
    "What criteria determine whether a product is classified as an ATMP (gene therapy, somatic cell therapy or tissue-engineered product)?",
    "Under what conditions can the hospital exemption be used to supply a custom-made ATMP without a marketing authorisation?",
    "What must the environmental risk assessment for a GMO-containing investigational medicinal product include?",
    "What additional safety testing, such as for porcine endogenous retrovirus, is needed for xenogeneic cell therapy products?",
    "What in-use stability and maximum time from thaw to infusion should be validated for a cryopreserved autologous CAR-T product at the bedside?",
    "What is an acceptable vector copy number per cell specification for a transduced CD34+ cell product?",
    "How should donor eligibility testing and traceability from donor to recipient be handled for allogeneic cell-based medicinal products?",
    "What GMP requirements specific to advanced therapy medicinal products apply to manufacturing in a hospital cleanroom?",
    "How should off-target editing be assessed for a CRISPR-Cas9 genome-editing product?",
    "What specification for the ratio of empty to full capsids is expected for an AAV vector drug product?",
    "How should the risk-based approach be applied to determine the extent of quality, non-clinical and clinical data for an ATMP marketing authorisation?",
    "How can a cell therapy batch that must be administered before the sterility test result is available be released under GMP?",
    "What immunogenicity assessment, including pre-existing neutralising antibodies against the capsid, is required for AAV gene therapy patients?",
    "What are the quality requirements for the scaffold or matrix in a combined ATMP that contains cells and a medical device?",
    "How should the qualified person certify an autologous ATMP batch when some release results are pending at the time of infusion?",
    "Which non-clinical animal models are acceptable to support dose selection for a first-in-human gene therapy trial when no homologous model exists?",
    "What residual reprogramming vector testing is needed when characterising an iPSC master cell bank?",
    "How should ectopic tissue formation and cell migration be studied for a mesenchymal stem cell product?",
    "What are the pharmacovigilance and risk management plan requirements specific to gene therapy medicinal products after approval?",
    "How should transduction efficiency and vector tropism be characterised as part of potency for a gene therapy vector?",
    "What is the maximum residual plasmid DNA and host-cell DNA per dose allowed for a viral vector produced by transient transfection in HEK293 cells?",
    "What is the minimum number of viable CAR-positive T cells per kilogram that must be in each dose, and what viability limit applies at release?",
    "Which risk factors determine whether a cell-based product is 'substantially manipulated' rather than minimally manipulated?",
    "How should comparability be shown between autologous cell therapy batches manufactured at a central facility and at a point-of-care site?",
]:
    U("unanswerable", q)

# ---------------------------------------------------------------- off-topic
for q in [
    "How do I file a quarterly VAT return for a small business in Germany?",
    "What oven temperature and baking time give the best sourdough bread crust?",
    "How many players does each team have on the field in a rugby union match?",
    "How do I configure a Python virtual environment in VS Code?",
    "What is the capital gains tax rate on shares held for more than one year in the US?",
    "Who won the 2018 FIFA World Cup final and what was the score?",
    "How many minutes should an egg be boiled to get a soft yolk?",
    "How do I resolve a merge conflict in git after a rebase?",
    "What is the offside rule in ice hockey?",
    "How can I speed up a slow SQL query with a composite index?",
]:
    U("off-topic", q)


def main():
    rows = []
    for i, q in enumerate(QS, 1):
        qid = f"q{i:03d}"
        answerable = bool(q["ev"])
        gold = {}
        order = []
        for d, p, _ in q["ev"]:
            if d not in gold:
                gold[d] = set()
                order.append(d)
            gold[d].add(p)
        for d, ps in q["extra"].items():
            if not ps:
                continue
            if d not in gold:
                gold[d] = set()
                order.append(d)
            gold[d].update(ps)
        rows.append({
            "id": qid,
            "question": q["question"],
            "split": None,
            "style": q["style"],
            "answerable": answerable,
            "gold": [{"file": F[d], "pages": sorted(gold[d])} for d in order],
            "evidence": [{"file": F[d], "page": p, "quote": t} for d, p, t in q["ev"]],
            "_doc": order[0] if order else q["style"],
        })
    # deterministic split: within each style, order by (primary doc, id) and alternate dev/test;
    # the starting split alternates between groups so odd-sized groups balance out
    groups = {}
    for r in rows:
        groups.setdefault(r["style"], []).append(r)
    flip = 0
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda r: (r["_doc"], r["id"]))
        for j, r in enumerate(members):
            r["split"] = "dev" if (j + flip) % 2 == 0 else "test"
        if len(groups[key]) % 2 == 1:
            flip ^= 1
    with open(os.path.join(HERE, "questions.jsonl"), "w", encoding="utf-8") as fh:
        for r in rows:
            r.pop("_doc")
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} questions")


if __name__ == "__main__":
    main()
