"""De-identification (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)) of FHIR R4 resources: for each
of the 18 identifier classes, an identifier planted in realistic FHIR JSON is gone from the
serialised output, which is still valid FHIR (fhir.resources R4B); Synthea output (generated
offline, never real data) comes out valid with no name, address, phone, identifier value or
full date of the input left; k-anonymity holds after generalisation and suppression."""

from __future__ import annotations

import base64
import copy
import json
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careledger.errors import InvalidInput
from careledger.research.deid import (
    AGE_EXTENSION,
    DATA_ABSENT_REASON,
    RESTRICTED_ZIP3,
    KReport,
    Pseudonymizer,
    Rules,
    deidentify,
    deidentify_bundle,
    k_anonymity,
    quasi_identifiers,
)

STUDY = Pseudonymizer(bytes(range(32)))
RULES = Rules(reference_date=date(2026, 1, 1))
MASKED = {"extension": [{"url": DATA_ABSENT_REASON, "valueCode": "masked"}]}


def _valid(resource: dict[str, Any]) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def _deid(resource: dict[str, Any], rules: Rules = RULES) -> dict[str, Any]:
    """De-identify a valid input; the output must be valid too."""
    _valid(resource)
    out = deidentify(resource, STUDY, rules)
    _valid(out)
    return out


def _gone(output: dict[str, Any], *planted: str) -> str:
    text = json.dumps(output)
    for value in planted:
        assert value not in text, f"{value!r} survived de-identification"
    return text


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _patient(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient", "id": "pat-7731",
        "meta": {"lastUpdated": "2024-03-14T09:26:53.589+01:00",
                 "source": "https://ehr.example-hospital.org/fhir"},
        "identifier": [
            {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                  "code": "MR", "display": "Medical Record Number"}]},
             "system": "http://hospital.smarthealthit.org", "value": "MRN-00417733"},
            {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                  "code": "SS", "display": "Social Security Number"}]},
             "system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-94-2255"},
        ],
        "name": [{"use": "official", "family": "Erdman", "given": ["Darrell", "Quincy"],
                  "prefix": ["Mr."]}],
        "gender": "male", "birthDate": "1961-09-05",
        "address": [{"use": "home", "line": ["156 Goodwin Approach Suite 507"],
                     "city": "Springfield", "district": "Hampden County", "state": "MA",
                     "postalCode": "01103-2214", "country": "US"}],
        **extra,
    }


def _encounter(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Encounter", "id": "enc-1", "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                      "code": "AMB"},
            "subject": {"reference": "Patient/pat-7731", "display": "Darrell Erdman"}, **extra}


def _observation(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": "obs-1", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "72166-2",
                                 "display": "Tobacco smoking status"}]},
            "subject": {"reference": "Patient/pat-7731"}, **extra}


# --- the 18 Safe Harbor identifier classes -------------------------------------------------


def test_1_names_are_removed() -> None:
    patient = _deid(_patient(contact=[{
        "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0131",
                                      "code": "N"}]}],
        "name": {"family": "Erdman", "given": ["Marta"]}}]))
    assert "name" not in patient and patient["contact"][0]["relationship"]
    practitioner = _deid({"resourceType": "Practitioner", "id": "dr-1",
                          "name": [{"family": "Rossi", "given": ["Sarah"], "prefix": ["Dr."]}]})
    related = _deid({"resourceType": "RelatedPerson", "id": "rp-1",
                     "patient": {"reference": "Patient/pat-7731"},
                     "name": [{"text": "Marta Erdman"}]})
    encounter = _deid(_encounter(participant=[{"individual": {"reference": "Practitioner/dr-1",
                                                              "display": "Dr. Sarah Rossi"}}]))
    for out in (patient, practitioner, related, encounter):
        _gone(out, "Erdman", "Darrell", "Quincy", "Marta", "Rossi", "Sarah")
    assert encounter["subject"] == {"reference": f"Patient/{STUDY.id('pat-7731')}"}


def test_2_geography_below_the_state_is_removed_and_zip_cut_to_three_digits() -> None:
    geo = {"url": "http://hl7.org/fhir/StructureDefinition/geolocation", "extension": [
        {"url": "latitude", "valueDecimal": 42.101544}, {"url": "longitude",
                                                         "valueDecimal": -72.589811}]}
    patient = _patient()
    patient["address"][0]["extension"] = [geo]
    patient["extension"] = [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
                             "valueAddress": {"city": "Chicopee", "state": "MA",
                                              "country": "US"}}]
    out = _deid(patient)
    assert out["address"] == [{"use": "home", "state": "MA", "country": "US",
                               "postalCode": "011"}]
    location = _deid({"resourceType": "Location", "id": "loc-1", "name": "Goodwin Clinic",
                      "address": {"line": ["300 Longwood Ave"], "city": "Boston",
                                  "postalCode": "021155737", "state": "MA"},
                      "position": {"latitude": 42.337606, "longitude": -71.105782}})
    assert location["address"] == {"state": "MA", "postalCode": "021"}
    for o in (out, location):
        _gone(o, "Goodwin", "Springfield", "Hampden", "01103", "2214", "42.101544",
              "-72.589811", "Chicopee", "Longwood", "Boston", "02115", "42.337606", "-71.105782")


@pytest.mark.parametrize("prefix", sorted(RESTRICTED_ZIP3))
def test_2_restricted_three_digit_zip_prefixes_become_000(prefix: str) -> None:
    patient = _patient()
    patient["address"][0]["postalCode"] = prefix + "42"
    assert _deid(patient)["address"][0]["postalCode"] == "000"


def test_2_postal_codes_outside_the_us_are_removed() -> None:
    patient = _patient()
    patient["address"][0].update(postalCode="SW1A 1AA", country="GB", state="London")
    out = _deid(patient)
    assert "postalCode" not in out["address"][0]
    _gone(out, "SW1A")


def test_3_dates_keep_only_their_year_everywhere() -> None:
    obs = _deid(_observation(
        effectiveDateTime="2019-03-14T09:26:53+01:00", issued="2019-03-14T10:00:00.000Z",
        meta={"lastUpdated": "2019-03-14T10:00:00Z"},
        extension=[{"url": "https://example.org/fhir/StructureDefinition/collected",
                    "valueDateTime": "2019-03-13"},
                   {"url": "https://example.org/fhir/StructureDefinition/scan",
                    "valueAttachment": {"contentType": "text/plain", "creation": "2019-03-14"}}])
    )
    assert obs["effectiveDateTime"] == "2019" and obs["extension"][0]["valueDateTime"] == "2019"
    assert "issued" not in obs and "lastUpdated" not in obs["meta"]
    assert obs["extension"][1]["valueAttachment"] == {"contentType": "text/plain",
                                                      "creation": "2019"}
    condition = _deid({"resourceType": "Condition", "id": "c-1",
                       "subject": {"reference": "Patient/pat-7731"},
                       "onsetDateTime": "2018-11-02", "abatementDateTime": "2019-03-14",
                       "recordedDate": "2018-11-03T08:00:00Z"})
    assert (condition["onsetDateTime"], condition["abatementDateTime"],
            condition["recordedDate"]) == ("2018", "2019", "2018")
    encounter = _deid(_encounter(period={"start": "2019-03-14T09:00:00Z",
                                         "end": "2019-03-16T11:00:00Z"}))
    assert encounter["period"] == {"start": "2019", "end": "2019"}
    request = _deid({"resourceType": "MedicationRequest", "id": "mr-1", "status": "active",
                     "intent": "order", "subject": {"reference": "Patient/pat-7731"},
                     "medicationCodeableConcept": {"coding": [{
                         "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                         "code": "308192"}]},
                     "authoredOn": "2019-03-14",
                     "dosageInstruction": [{"timing": {"event": ["2019-03-15T08:00:00Z"]}}]})
    assert request["authoredOn"] == "2019"
    assert request["dosageInstruction"][0]["timing"]["event"] == ["2019"]
    patient = _deid(_patient(deceasedDateTime="2020-07-01T04:00:00Z"))
    assert patient["birthDate"] == "1961" and patient["deceasedDateTime"] == "2020"
    for out in (obs, condition, encounter, request, patient):
        text = _gone(out, "03-14", "03-13", "11-02", "11-03", "03-16", "03-15", "09-05",
                     "07-01")
        assert not re.search(r'"\d{4}-\d{2}', text)


def test_3_ages_over_89_become_90_or_older() -> None:
    old = _deid(_patient(birthDate="1931-06-02"))
    assert "birthDate" not in old
    assert {"url": AGE_EXTENSION, "valueAge": {
        "value": 90, "comparator": ">=", "unit": "years", "system": "http://unitsofmeasure.org",
        "code": "a"}} in old["extension"]
    _gone(old, "1931")
    assert quasi_identifiers(old)["birth_year"] == "90+"
    young = _deid(_patient(birthDate="1936-06-02"))  # 89 on the reference date
    assert young["birthDate"] == "1936" and "extension" not in young
    # dates 90 or more years before the reference date, and ages over 89, are aggregated too
    condition = _deid({"resourceType": "Condition", "id": "c-2",
                       "subject": {"reference": "Patient/pat-7731"},
                       "onsetAge": {"value": 93, "unit": "a",
                                    "system": "http://unitsofmeasure.org", "code": "a"},
                       "recordedDate": "1935-04-01"})
    assert condition["onsetAge"]["comparator"] == ">=" and condition["onsetAge"]["value"] == 90
    _gone(condition, "93", "1935")
    # a patient who died at 95 is also "90 or older"
    dead = _deid(_patient(birthDate="1901-01-10", deceasedDateTime="1996-05-01"))
    assert "birthDate" not in dead and dead["deceasedDateTime"] == "1996"


def test_4_telephone_numbers_are_removed() -> None:
    out = _deid(_patient(telecom=[{"system": "phone", "value": "555-146-1616", "use": "home"},
                                  {"system": "sms", "value": "+1 617 555 0134"}],
                         contact=[{"telecom": [{"system": "phone", "value": "555-201-7788"}],
                                   "gender": "female"}]))
    org = _deid({"resourceType": "Organization", "id": "org-1",
                 "telecom": [{"system": "phone", "value": "(617) 919-2805"}]})
    _gone(out, "555-146-1616", "617 555 0134", "555-201-7788")
    _gone(org, "919-2805")
    assert "telecom" not in out and out["contact"] == [{"gender": "female"}]


def test_5_fax_numbers_are_removed() -> None:
    out = _deid(_patient(telecom=[{"system": "fax", "value": "617-555-0199"}]))
    role = _deid({"resourceType": "PractitionerRole", "id": "role-1",
                  "telecom": [{"system": "fax", "value": "+1-413-555-0142"}]})
    _gone(out, "617-555-0199")
    _gone(role, "413-555-0142")


def test_6_email_addresses_are_removed() -> None:
    out = _deid(_patient(telecom=[{"system": "email",
                                   "value": "darrell.erdman700@example.com"}]))
    obs = _deid(_observation(valueString="reach me at d.erdman@example.org"))
    _gone(out, "darrell.erdman700@example.com", "@example")
    _gone(obs, "d.erdman@example.org")


def test_7_social_security_numbers_are_removed() -> None:
    out = _deid(_patient())
    related = _deid({"resourceType": "RelatedPerson", "id": "rp-2",
                     "patient": {"reference": "Patient/pat-7731"},
                     "identifier": [{"system": "http://hl7.org/fhir/sid/us-ssn",
                                     "value": "999-31-4159"}]})
    _gone(out, "999-94-2255", "us-ssn")
    _gone(related, "999-31-4159")
    assert "identifier" not in out


def test_8_medical_record_numbers_are_removed() -> None:
    out = _deid(_patient())
    encounter = _deid(_encounter(identifier=[{"system": "http://hospital.smarthealthit.org",
                                              "value": "MRN-00417733-V3"}]))
    logical = _deid(_observation(subject={"identifier": {
        "system": "http://hospital.smarthealthit.org", "value": "MRN-00417733"}}))
    for o in (out, encounter, logical):
        _gone(o, "MRN-00417733")
    assert "subject" not in logical  # a reference by identifier only: nothing left to keep


def test_9_health_plan_beneficiary_numbers_are_removed() -> None:
    coverage = _deid({
        "resourceType": "Coverage", "id": "cov-1", "status": "active",
        "identifier": [{"system": "https://cigna.example.com/member", "value": "U8839201-01"}],
        "subscriberId": "U8839201", "dependent": "01",
        "beneficiary": {"reference": "Patient/pat-7731"},
        "payor": [{"reference": "Organization/org-1", "display": "Cigna Health"}],
        "class": [{"type": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "group"}]},
            "value": "GRP-55012", "name": "Springfield Teachers Union"}]})
    _gone(coverage, "U8839201", "GRP-55012", "Springfield", "Cigna")
    assert coverage["class"][0]["_value"] == MASKED  # required: masked, still valid


def _claim(kind: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "resourceType": kind, "id": f"{kind}-1", "status": "active", "use": "claim",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type",
                             "code": "institutional"}]},
        "patient": {"reference": "Patient/pat-7731"}, "created": "2019-03-14T10:00:00Z",
        "provider": {"reference": "Organization/org-1"},
        "identifier": [{"system": "https://billing.example-hospital.org/account",
                        "value": "ACCT-4417-2290"}],
        "insurance": [{"sequence": 1, "focal": True,
                       "coverage": {"reference": "Coverage/cov-1"},
                       "preAuthRef": ["PA-771203"]}], **extra}
    if kind == "Claim":
        base["priority"] = {"coding": [{"code": "normal"}]}
    else:
        base.update(outcome="complete", insurer={"reference": "Organization/org-2"})
        del base["insurance"][0]["sequence"]
    return base


def test_10_account_numbers_are_removed() -> None:
    account = _deid({"resourceType": "Account", "id": "acct-1", "status": "active",
                     "identifier": [{"system": "https://billing.example-hospital.org/account",
                                     "value": "ACCT-4417-2290"}],
                     "name": "Erdman household account 4417-2290",
                     "subject": [{"reference": "Patient/pat-7731"}]})
    claim = _deid(_claim("Claim"))
    eob = _deid(_claim("ExplanationOfBenefit"))
    for out in (account, claim, eob):
        _gone(out, "ACCT-4417-2290", "4417-2290", "PA-771203")
    assert claim["created"] == eob["created"] == "2019"


def test_11_certificate_and_licence_numbers_are_removed() -> None:
    patient = _patient()
    patient["identifier"] += [
        {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                              "code": "DL"}]},
         "system": "urn:oid:2.16.840.1.113883.4.3.25", "value": "S99921327"},
        {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                              "code": "PPN"}]},
         "system": "http://hl7.org/fhir/sid/passport-USA", "value": "X12345678"}]
    practitioner = _deid({"resourceType": "Practitioner", "id": "dr-2",
                          "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi",
                                          "value": "9999384172"}],
                          "qualification": [{"identifier": [{"value": "MA-MD-228113"}],
                                             "code": {"text": "Board certified, cert 4471"}}]})
    _gone(_deid(patient), "S99921327", "X12345678")
    _gone(practitioner, "9999384172", "MA-MD-228113", "4471")


def test_12_vehicle_identifiers_and_licence_plates_are_removed() -> None:
    obs = _deid(_observation(
        valueString="Drives a 2003 Honda, VIN 1HGCM82633A004352, plate 7ABC123",
        note=[{"text": "Car crash, plate 7ABC123"}],
        extension=[{"url": "https://example.org/fhir/StructureDefinition/vehicle",
                    "valueIdentifier": {"system": "urn:us-ma:plate", "value": "7ABC123"}}]))
    _gone(obs, "1HGCM82633A004352", "7ABC123", "Honda")


def test_13_device_identifiers_and_serial_numbers_are_removed() -> None:
    device = _deid({
        "resourceType": "Device", "id": "dev-1", "status": "active",
        "patient": {"reference": "Patient/pat-7731"},
        "identifier": [{"system": "urn:example:asset", "value": "ASSET-88213"}],
        "udiCarrier": [{"deviceIdentifier": "08717648200274",
                        "carrierHRF": "(01)08717648200274(11)231110(21)SN-55A91",
                        "carrierAIDC": _b64("]d20108717648200274")}],
        "distinctIdentifier": "DI-3390-7", "serialNumber": "SN-55A91", "lotNumber": "LOT-2231",
        "deviceName": [{"name": "Pacemaker model 5 SN-55A91", "type": "user-friendly-name"}],
        "manufactureDate": "2023-11-10T07:13:31Z"})
    immunization = _deid({"resourceType": "Immunization", "id": "imm-1", "status": "completed",
                          "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx",
                                                      "code": "08"}]},
                          "patient": {"reference": "Patient/pat-7731"},
                          "occurrenceDateTime": "2019-03-14", "lotNumber": "LOT-IM-7781"})
    _gone(device, "ASSET-88213", "08717648200274", "SN-55A91", "DI-3390-7", "LOT-2231",
          _b64("]d20108717648200274"), "Pacemaker")
    _gone(immunization, "LOT-IM-7781")
    assert device["deviceName"][0]["type"] == "user-friendly-name"  # coded part kept


def test_14_web_urls_are_removed() -> None:
    patient = _deid(_patient(telecom=[{"system": "url",
                                       "value": "https://darrell-erdman.example.net/blog"}]))
    doc = _deid({"resourceType": "DocumentReference", "id": "doc-1", "status": "current",
                 "subject": {"reference": "https://ehr.example-hospital.org/fhir/Patient/pat-7731"},
                 "content": [{"attachment": {"contentType": "application/pdf",
                                             "url": "https://files.example-hospital.org/d/77.pdf",
                                             "title": "Discharge letter for D. Erdman"}}]})
    for out in (patient, doc):
        _gone(out, "darrell-erdman.example.net", "example-hospital.org", "77.pdf", "Erdman")
    assert doc["subject"] == {"reference": f"Patient/{STUDY.id('pat-7731')}"}
    assert doc["content"] == [{"attachment": {"contentType": "application/pdf"}}]


def test_15_ip_addresses_are_removed() -> None:
    audit = _deid({
        "resourceType": "AuditEvent", "id": "ae-1", "recorded": "2019-03-14T10:00:00Z",
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"},
        "agent": [{"requestor": True, "who": {"reference": "Patient/pat-7731"},
                   "network": {"address": "203.0.113.42", "type": "2"}}],
        "source": {"observer": {"display": "gateway 2001:db8::17"}, "site": "10.20.30.40"}})
    obs = _deid(_observation(valueString="logged in from 198.51.100.7"))
    _gone(audit, "203.0.113.42", "2001:db8::17", "10.20.30.40")
    _gone(obs, "198.51.100.7")
    assert audit["_recorded"] == MASKED and audit["source"]["observer"] == MASKED


def test_16_biometric_identifiers_are_removed() -> None:
    print_data = _b64("fingerprint minutiae 44:12:9f:ee:01")
    voice = "12 15 19 24 31 29 22 17 13 11"
    obs = _deid({"resourceType": "Media", "id": "m-2", "status": "completed",
                 "subject": {"reference": "Patient/pat-7731"},
                 "reasonCode": [{"coding": [{"system": "http://snomed.info/sct",
                                             "code": "250154007", "display": "Fingerprint"}]}],
                 "content": {"contentType": "image/png", "data": print_data,
                             "hash": _b64("0123456789abcdefghij")}})
    ecg = _deid(_observation(valueSampledData={
        "origin": {"value": 0}, "period": 10, "dimensions": 1, "data": voice}))
    provenance = _deid({"resourceType": "Provenance", "id": "prov-1",
                        "target": [{"reference": "Observation/obs-1"}],
                        "recorded": "2019-03-14T10:00:00Z",
                        "agent": [{"who": {"reference": "Practitioner/dr-1"}}],
                        "signature": [{"type": [{"system": "urn:iso-astm:E1762-95:2013",
                                                 "code": "1.2.840.10065.1.12.1.1"}],
                                       "when": "2019-03-14T10:00:00Z",
                                       "who": {"reference": "Practitioner/dr-1"},
                                       "data": _b64("handwritten signature strokes")}]})
    _gone(obs, print_data)
    _gone(ecg, voice)
    _gone(provenance, _b64("handwritten signature strokes"))
    assert obs["content"] == {"contentType": "image/png"}
    _gone(obs, _b64("0123456789abcdefghij"))


def test_17_full_face_photographs_are_removed() -> None:
    face = _b64("\x89PNG full face photograph of Darrell")
    patient = _deid(_patient(photo=[{"contentType": "image/png", "data": face},
                                    {"url": "https://ehr.example-hospital.org/photo/7731.jpg"}]))
    media = _deid({"resourceType": "Media", "id": "m-1", "status": "completed",
                   "subject": {"reference": "Patient/pat-7731"},
                   "content": {"contentType": "image/jpeg", "data": face,
                               "url": "https://pacs.example.org/face.jpg",
                               "title": "Face photo"}})
    _gone(patient, face, "7731.jpg")
    _gone(media, face, "face.jpg", "Face photo")
    assert "photo" not in patient and media["content"] == {"contentType": "image/jpeg"}


def test_18_other_unique_codes_are_pseudonymised_or_removed() -> None:
    study = _deid({
        "resourceType": "ImagingStudy", "id": "img-1", "status": "available",
        "subject": {"reference": "Patient/pat-7731"}, "started": "2017-07-24T05:10:22Z",
        "identifier": [{"system": "urn:dicom:uid",
                        "value": "urn:oid:2.25.158743446881295728127195793762303304161"}],
        "series": [{"uid": "2.25.120490128495862029124013493709619926132",
                    "modality": {"system": "http://dicom.nema.org/resources/ontology/DCM",
                                 "code": "DX"},
                    "instance": [{"uid": "2.25.75628345805372726854150639848871731182",
                                  "sopClass": {"system": "urn:ietf:rfc:3986",
                                               "code": "1.2.840.10008.5.1.4.1.1.1.1"}}]}]})
    specimen = _deid({"resourceType": "Specimen", "id": "spec-1",
                      "accessionIdentifier": {"value": "ACC-19-003321"},
                      "subject": {"reference": "Patient/pat-7731"}})
    _gone(study, "158743446881295728127195793762303304161",
          "120490128495862029124013493709619926132", "75628345805372726854150639848871731182",
          "img-1", "pat-7731")
    _gone(specimen, "ACC-19-003321", "spec-1")
    series = study["series"][0]
    assert series["uid"] == STUDY.id("2.25.120490128495862029124013493709619926132")
    assert series["instance"][0]["sopClass"]["code"] == "1.2.840.10008.5.1.4.1.1.1.1"  # a class
    assert study["id"] == STUDY.id("img-1")


# --- free text, references, masking, bad input ----------------------------------------------


def test_free_text_narrative_notes_and_descriptions_are_dropped() -> None:
    obs = _deid(_observation(
        text={"status": "generated",
              "div": '<div xmlns="http://www.w3.org/1999/xhtml">Darrell Erdman, 156 Goodwin</div>'},
        note=[{"authorString": "Dr. Rossi", "time": "2019-03-14T10:00:00Z",
               "text": "Pt says his neighbour Bob Smith drove him"}],
        interpretation=[{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                                     "code": "N", "display": "Normal"}], "text": "Normal"}],
        method={"text": "asked at the Goodwin St. kiosk"}))
    goal = _deid({"resourceType": "Goal", "id": "goal-1", "lifecycleStatus": "active",
                  "subject": {"reference": "Patient/pat-7731"},
                  "description": {"text": "Walk to Bob's house on Goodwin Street daily"}})
    procedure = _deid({"resourceType": "Procedure", "id": "proc-1", "status": "completed",
                       "subject": {"reference": "Patient/pat-7731"},
                       "code": {"coding": [{"system": "http://snomed.info/sct",
                                            "code": "117015009"}], "text": "throat swab by Bob"},
                       "reasonCode": [{"text": "Medication_Review_Due"}]})
    for out in (obs, goal, procedure):
        _gone(out, "Erdman", "Goodwin", "Rossi", "Bob", "Smith", "kiosk", "Medication_Review")
    assert "text" not in obs and "note" not in obs and "method" not in obs
    assert obs["interpretation"][0]["text"] == "Normal"  # repeats a coding display: kept
    assert goal["description"] == MASKED  # required: masked, still valid FHIR
    assert "reasonCode" not in procedure and "text" not in procedure["code"]


def test_references_become_per_study_pseudonyms_that_still_resolve() -> None:
    bundle = {"resourceType": "Bundle", "id": "b-1", "type": "transaction",
              "identifier": {"value": "EXPORT-2024-77"},
              "entry": [
                  {"fullUrl": "urn:uuid:85c63cf3-278e-454c-b5ba-df5889815eb7",
                   "resource": {**_patient(), "id": "85c63cf3-278e-454c-b5ba-df5889815eb7"},
                   "request": {"method": "POST", "url": "Patient"}},
                  {"fullUrl": "urn:uuid:91a7eaf9-df30-4999-9b1f-61b8614d445b",
                   "resource": _observation(
                       id="91a7eaf9-df30-4999-9b1f-61b8614d445b",
                       subject={"reference": "urn:uuid:85c63cf3-278e-454c-b5ba-df5889815eb7"},
                       contained=[{"resourceType": "Practitioner", "id": "p1",
                                   "name": [{"family": "Rossi"}]}],
                       performer=[{"reference": "#p1"}]),
                   "request": {"method": "PUT",
                               "url": "Observation/91a7eaf9-df30-4999-9b1f-61b8614d445b"}}]}
    _valid(bundle)
    out = deidentify_bundle(bundle, STUDY, RULES)
    _valid(out)
    _gone(out, "85c63cf3", "91a7eaf9", "EXPORT-2024-77", "Rossi", "b-1")
    patient, obs = (e["resource"] for e in out["entry"])
    assert out["entry"][0]["fullUrl"] == f"urn:uuid:{patient['id']}"
    assert obs["subject"]["reference"] == out["entry"][0]["fullUrl"]
    assert obs["performer"][0]["reference"] == "#" + obs["contained"][0]["id"]
    assert out["entry"][1]["request"]["url"] == f"Observation/{obs['id']}"
    assert out["entry"][0]["request"]["url"] == "Patient"
    # the same study gives the same pseudonyms; another study unrelated ones
    assert deidentify_bundle(bundle, Pseudonymizer(bytes(range(32))), RULES) == out
    other = deidentify_bundle(bundle, Pseudonymizer.generate(), RULES)
    assert other["entry"][0]["resource"]["id"] != patient["id"]
    # the key never leaves the pseudonymizer
    text = json.dumps(out)
    assert STUDY.key.hex() not in text and base64.b64encode(STUDY.key).decode() not in text
    assert STUDY.key.hex() not in repr(STUDY) and "withheld" in repr(STUDY)
    assert {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
            "code": "PSEUDED", "display": "pseudonymized"} in patient["meta"]["security"]


def test_the_input_is_not_changed() -> None:
    patient = _patient(telecom=[{"system": "phone", "value": "555-146-1616"}])
    before = copy.deepcopy(patient)
    deidentify(patient, STUDY, RULES)
    assert patient == before


def test_bad_input_is_refused_with_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="unknown"):
        deidentify({"resourceType": "Spaceship", "id": "x"}, STUDY)
    with pytest.raises(InvalidInput, match="unknown"):
        deidentify({"resourceType": "Address"}, STUDY)  # a datatype, not a resource
    with pytest.raises(InvalidInput):
        deidentify(["not", "a", "resource"], STUDY)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="Bundle"):
        deidentify_bundle(_patient(), STUDY)
    with pytest.raises(InvalidInput, match="entry 0"):
        deidentify_bundle({"resourceType": "Bundle", "type": "collection",
                           "entry": [{"resource": {"resourceType": "Nope"}}]}, STUDY)
    with pytest.raises(InvalidInput, match="32 random bytes"):
        Pseudonymizer(b"short")
    with pytest.raises(ValueError):  # InvalidInput is a ValueError too
        Pseudonymizer("a string key of more than thirty-two chars")  # type: ignore[arg-type]


# --- Synthea --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthea(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("synthea")
    exe = shutil.which("synthea") or str(Path(sys.executable).parent / "synthea")
    subprocess.run([exe, "-p", "3", "-s", "42", "-r", "20260101", "-o", str(out), "--threads",
                    "1"], cwd=out, check=True, capture_output=True, timeout=300)
    return [json.loads(f.read_text()) for f in sorted((out / "fhir").glob("*.json"))]


def _planted(resource: Any, found: set[str], key: str = "") -> None:
    """Every name, address part, telecom value, identifier value, free text and full date."""
    if isinstance(resource, dict):
        for k, v in resource.items():
            if k in ("name", "address", "telecom", "identifier", "udiCarrier") and v:
                _strings(v, found, skip={"use", "type", "state", "country", "system", "code",
                                         "display", "url"})
            elif k == "data" and isinstance(v, str):
                found.add(v)
            _planted(v, found, k)
    elif isinstance(resource, list):
        for v in resource:
            _planted(v, found, key)
    elif isinstance(resource, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", resource):
        found.add(resource[:10])


def _strings(value: Any, found: set[str], skip: set[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in skip:
                _strings(v, found, skip)
    elif isinstance(value, list):
        for v in value:
            _strings(v, found, skip)
    elif isinstance(value, str) and len(value) >= 3:
        found.add(value)


def test_synthea_bundles_come_out_valid_and_without_identifiers(
        synthea: list[dict[str, Any]]) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    assert len(synthea) >= 3
    for bundle in synthea:
        planted: set[str] = set()
        _planted(bundle, planted)
        out = deidentify_bundle(bundle, STUDY, RULES)
        assert len(out["entry"]) == len(bundle["entry"])
        for entry in out["entry"]:
            resource = entry["resource"]
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        text = json.dumps(out)
        left = sorted(v for v in planted if v in text)
        assert not left, f"survived: {left[:10]}"
        assert not re.search(r'"\d{4}-\d{2}', text), "a date finer than the year survived"
        ids = {e["resource"]["id"] for e in bundle["entry"]}
        assert not any(i in text for i in ids)
        # every reference still resolves inside the bundle
        urls = {e["fullUrl"] for e in out["entry"]}
        refs = set(re.findall(r'"reference": "(urn:uuid:[^"]+)"', text))
        before = set(re.findall(r'"reference": "(urn:uuid:[^"]+)"', json.dumps(bundle)))
        resolved_before = before & {e["fullUrl"] for e in bundle["entry"]}
        assert len(refs & urls) == len(resolved_before)
        patient = next(e["resource"] for e in out["entry"]
                       if e["resource"]["resourceType"] == "Patient")
        row = quasi_identifiers(patient)
        assert set(row) == {"birth_year", "gender", "zip3", "state"}
        assert re.fullmatch(r"\d{4}|90\+", row["birth_year"]) and len(row["zip3"]) in (0, 3)


# --- k-anonymity ----------------------------------------------------------------------------


def _rows() -> list[dict[str, Any]]:
    """60 people: birth years 1950-1989, two ZIP areas, one state, both genders."""
    return [{"patient": f"p{i}", "birth_year": str(1950 + (i * 7) % 40),
             "gender": ("female", "male")[i % 2], "zip3": ("021", "024")[(i // 2) % 2],
             "state": "MA"} for i in range(60)]


def _classes(report: KReport, qis: tuple[str, ...]) -> dict[tuple[str, ...], int]:
    counts: dict[tuple[str, ...], int] = {}
    for row in report.rows:
        key = tuple(row[q] for q in qis)
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_k_anonymity_reports_k_and_it_holds_after_generalisation_and_suppression() -> None:
    rows = _rows()
    report = k_anonymity(rows, k=5)
    qis = ("birth_year", "gender", "zip3", "state")
    classes = _classes(report, qis)
    assert report.satisfied and report.k == 5 and report.k_achieved >= 5
    assert min(classes.values()) == report.k_achieved
    assert sorted(classes.values(), reverse=True) == list(report.class_sizes)
    assert len(report.rows) + report.suppressed == len(rows)
    assert report.suppressed <= 0.05 * len(rows)
    assert report.generalisation["birth_year"] > 0  # exact years alone cannot reach k=5
    assert {r["patient"] for r in report.rows}.isdisjoint(
        rows[i]["patient"] for i in report.suppressed_rows)
    # the input rows are untouched, other columns kept
    assert rows == _rows() and all("patient" in r for r in report.rows)


@pytest.mark.parametrize("k", [1, 2, 5, 10, 20])
def test_k_is_configurable(k: int) -> None:
    report = k_anonymity(_rows(), k=k)
    assert report.k == k and report.satisfied
    assert all(n >= k for n in report.class_sizes)
    if k == 1:
        assert report.suppressed == 0 and set(report.generalisation.values()) == {0}


def test_suppression_only_keeps_values_and_drops_the_small_classes() -> None:
    rows = [{"birth_year": "1980", "gender": "female", "zip3": "021", "state": "MA"}] * 6 + [
        {"birth_year": "1941", "gender": "male", "zip3": "036", "state": "NH"}]
    report = k_anonymity(rows, k=5, generalise=False)
    assert report.suppressed == 1 and report.suppressed_rows == (6,)
    assert report.k_achieved == 6 and report.class_sizes == (6,)
    assert all(r["birth_year"] == "1980" for r in report.rows)


def test_fewer_rows_than_k_are_all_suppressed() -> None:
    report = k_anonymity(_rows()[:4], k=5)
    assert report.suppressed == 4 and report.rows == () and report.k_achieved == 0


def test_k_anonymity_refuses_bad_arguments() -> None:
    with pytest.raises(InvalidInput, match="k must be"):
        k_anonymity(_rows(), k=0)
    with pytest.raises(InvalidInput, match="quasi-identifier"):
        k_anonymity(_rows(), quasi_identifiers=())
    with pytest.raises(InvalidInput, match="row 0 has no zip3"):
        k_anonymity([{"birth_year": "1980", "gender": "f", "state": "MA"}])
    with pytest.raises(InvalidInput, match="max_suppression"):
        k_anonymity(_rows(), max_suppression=2.0)


_value = st.sampled_from


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries({
    "birth_year": _value(["1931", "1950", "1952", "1967", "1980", "1999", "90+", ""]),
    "gender": _value(["female", "male", "other"]), "zip3": _value(["021", "024", "000", ""]),
    "state": _value(["MA", "NH"]), "rare": _value(["x", "y"])}), max_size=40),
    k=st.integers(1, 8), generalise=st.booleans(),
    qis=_value([("birth_year", "gender", "zip3", "state"), ("birth_year", "rare")]))
def test_every_kept_row_is_in_a_class_of_at_least_k(
        rows: list[dict[str, str]], k: int, generalise: bool, qis: tuple[str, ...]) -> None:
    report = k_anonymity(rows, qis, k, generalise=generalise)
    classes = _classes(report, qis)
    assert all(n >= k for n in classes.values())
    assert len(report.rows) + report.suppressed == len(rows)
    assert report.satisfied and (report.k_achieved >= k or not report.rows)
